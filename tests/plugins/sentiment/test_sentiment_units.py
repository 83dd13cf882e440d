"""The pure parts: who spoke, the trend over the last segments, VADER's answer as JSON of the
task's output model."""

from __future__ import annotations

import pytest

from plugins.ai import ChatMessage, ChatRequest
from plugins.sentiment import SegmentSentiment
from plugins.sentiment.scoring import label_of, offline_sentiment
from plugins.sentiment.speakers import role_of
from plugins.sentiment.store import trend_of


@pytest.mark.parametrize(
    ("speaker", "direction", "role"),
    [
        ("caller", "inbound", "customer"),
        ("callee", "inbound", "agent"),
        ("callee", "outbound", "customer"),
        ("caller", "outbound-api", "agent"),
        ("Customer", None, "customer"),
        ("agent", "inbound", "agent"),
        ("unknown", "inbound", "other"),
    ],
)
def test_roles(speaker, direction, role):
    assert role_of(speaker, direction) == role


@pytest.mark.parametrize(
    ("newest_first", "trend"),
    [
        ([], "steady"),
        ([0.9], "steady"),
        ([-0.8, 0.9], "worsening"),
        ([0.7, -0.6], "improving"),
        ([0.5, 0.5, 0.5, 0.45, 0.5, 0.5], "steady"),
        ([-0.5, -0.4, -0.6, 0.2, 0.3, 0.1, 0.9], "worsening"),  # three against three
    ],
)
def test_trend(newest_first, trend):
    assert trend_of(newest_first) == trend


def test_labels_follow_vaders_thresholds():
    assert [label_of(s) for s in (0.05, 0.049, -0.049, -0.05)] == [
        "positive",
        "neutral",
        "neutral",
        "negative",
    ]


async def test_the_offline_answer_is_the_output_model_of_the_last_message():
    request = ChatRequest(
        task="sentiment",
        model="offline",
        system="instructions",
        messages=[ChatMessage("user", "glossary: none"), ChatMessage("user", "I hate this.")],
        output_schema=SegmentSentiment.model_json_schema(),
        output_name="SegmentSentiment",
        max_output_tokens=64,
    )
    answer = SegmentSentiment.model_validate_json(await offline_sentiment(request))
    assert answer.label == "negative"
    assert -1 <= answer.score < -0.05
