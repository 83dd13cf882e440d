"""The idempotency documentation stays true: problem types and settings are documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernel import ProblemType, Settings
from kernel._idempotency import problems

ROOT = Path(__file__).resolve().parents[3]
CONVENTIONS = (ROOT / "docs" / "api-conventions.md").read_text()


@pytest.mark.parametrize(
    "problem", [p for p in vars(problems).values() if isinstance(p, ProblemType)]
)
def test_every_idempotency_problem_type_is_listed(problem):
    assert f"`{problem.slug}`" in CONVENTIONS
    assert f"/problems/{problem.slug}" in CONVENTIONS  # and explained in the section


@pytest.mark.parametrize(
    "field", [name for name in Settings.model_fields if name.startswith("idempotency_")]
)
def test_the_idempotency_section_names_its_settings(field):
    assert f"`KRALIKI_{field.upper()}`" in CONVENTIONS


def test_the_replay_header_is_documented():
    assert "`Idempotent-Replayed: true`" in CONVENTIONS
    assert "`Idempotent-Replayed: true`" in (ROOT / "docs" / "plugins" / "guide.md").read_text()
