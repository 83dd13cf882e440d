"""The calls documentation stays true: every setting and problem type is documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernel import ProblemType
from plugins.calls import problems
from plugins.calls.config import CallsSettings

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("field", sorted(CallsSettings.model_fields))
def test_every_setting_is_documented(field):
    name = f"`KRALIKI_CALLS_{field.upper()}`"
    assert name in (ROOT / "README.md").read_text()
    assert name in (ROOT / "docs" / "plugins" / "calls.md").read_text()


@pytest.mark.parametrize(
    "problem", [p for p in vars(problems).values() if isinstance(p, ProblemType)]
)
def test_every_problem_type_is_listed(problem):
    assert f"`{problem.slug}`" in (ROOT / "docs" / "api-conventions.md").read_text()


def test_every_event_is_in_the_calls_guide():
    from plugins.calls.events import EVENT_TYPES

    text = (ROOT / "docs" / "plugins" / "calls.md").read_text()
    missing = [event.name for event in EVENT_TYPES if f"`{event.name}`" not in text]
    assert missing == []
