"""The segments documentation stays true: every problem type and public name is in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernel import ProblemType
from plugins.contacts.filters import ContactFilter
from plugins.contacts.segments import problems

ROOT = Path(__file__).resolve().parents[3]
DOC = (ROOT / "docs" / "plugins" / "contacts.md").read_text()
SECTION = DOC.split("## Segments", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize(
    "problem", [p for p in vars(problems).values() if isinstance(p, ProblemType)]
)
def test_every_problem_type_is_listed(problem):
    assert f"`{problem.slug}`" in SECTION


@pytest.mark.parametrize(
    "name",
    [
        "ContactFilter",
        "FieldCondition",
        "SegmentNotFoundError",
        "count_segment",
        "segment_contact_ids",
    ],
)
def test_every_public_name_is_documented(name):
    import plugins.contacts

    assert name in plugins.contacts.__all__
    assert f"`{name}" in SECTION


@pytest.mark.parametrize("criterion", sorted(ContactFilter.model_fields))
def test_every_criterion_is_documented(criterion):
    assert f"`{criterion}" in SECTION
