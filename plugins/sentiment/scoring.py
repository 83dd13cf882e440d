"""Scoring a segment: the ``sentiment`` AI task, answered offline by VADER.

Every segment goes through the gateway (``plugins.ai.complete``), so a tenant routing the
``sentiment`` task to an LLM gets the LLM; with no provider chosen the offline provider
answers with :func:`offline_sentiment` (VADER, tens of microseconds a sentence).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from kernel import Platform
from plugins.ai import AiTask, ChatRequest, complete, lexicon_sentiment

TASK = "sentiment"
PLUGIN = "sentiment"
POSITIVE_FROM = 0.05
"""VADER's own thresholds: compound >= 0.05 positive, <= -0.05 negative."""

Label = Literal["positive", "neutral", "negative"]

SYSTEM = (
    "You judge the sentiment of one utterance from a phone call between a customer and an "
    "agent. Answer with its label (positive, neutral or negative) and a score from -1 (very "
    "negative) to 1 (very positive)."
)


class SegmentSentiment(BaseModel):
    """What the model answers for one utterance."""

    label: Label
    score: float = Field(ge=-1.0, le=1.0)


def label_of(score: float) -> Label:
    if score >= POSITIVE_FROM:
        return "positive"
    if score <= -POSITIVE_FROM:
        return "negative"
    return "neutral"


async def offline_sentiment(request: ChatRequest) -> str:
    """VADER on the utterance (the last message: the gateway may add instructions first)."""
    text = request.messages[-1].content if request.messages else ""
    score = round(lexicon_sentiment(text).compound, 4)
    return SegmentSentiment(label=label_of(score), score=score).model_dump_json()


TASKS = [
    AiTask(
        TASK,
        "The sentiment of one transcript utterance (label and score -1..1), live during "
        "calls and when a call is analysed.",
        offline_sentiment,
    )
]


@dataclass(frozen=True, slots=True)
class Scored:
    score: float
    label: Label
    model: str


async def score_text(platform: Platform, text: str) -> Scored:
    """The tenant's model's judgement of ``text`` (inside the tenant's scope). A label the
    model gives that contradicts its score is kept: the model may weigh words VADER cannot."""
    answer = await complete(
        platform,
        plugin=PLUGIN,
        task=TASK,
        prompt=text,
        output=SegmentSentiment,
        system=SYSTEM,
        max_output_tokens=64,
    )
    parsed = answer.parsed
    if parsed is None:  # pragma: no cover - complete() validates ``output``
        raise ValueError("the model gave no sentiment")
    return Scored(round(parsed.score, 4), parsed.label, f"{answer.provider}/{answer.model}"[:64])
