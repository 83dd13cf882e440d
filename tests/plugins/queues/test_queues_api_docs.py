"""The queues guide stays true: every management route, setting, problem type, event and
public name is in it, and the sections the other parts fill are there."""

from __future__ import annotations

from pathlib import Path

import pytest

import plugins.queues
from kernel import ProblemType
from plugins.queues import api, problems, sample_api
from plugins.queues.config import QueuesSettings
from plugins.queues.events import EVENT_TYPES

ROOT = Path(__file__).resolve().parents[3]
GUIDE = ROOT / "docs" / "plugins" / "queues.md"
PROBLEMS = [v for v in vars(problems).values() if isinstance(v, ProblemType)]


def routes() -> list[str]:
    found = []
    for router in (api.fixed_router, sample_api.router, api.router):
        for route in router.routes:
            for method in sorted(route.methods - {"HEAD"}):  # type: ignore[attr-defined]
                path = route.path.replace("{queue_id}", "{id}")  # type: ignore[attr-defined]
                found.append(f"{method} /api/v1/queues{path}")
    return found


@pytest.mark.parametrize("route", routes())
def test_every_route_is_in_the_guide(route):
    assert f"`{route}`" in GUIDE.read_text()


@pytest.mark.parametrize("field", sorted(QueuesSettings.model_fields))
def test_every_setting_is_documented(field):
    name = f"`KRALIKI_QUEUES_{field.upper()}`"
    assert name in (ROOT / "README.md").read_text()
    assert name in GUIDE.read_text()


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p.slug)
def test_every_problem_type_is_listed(problem):
    assert f"`{problem.slug}`" in (ROOT / "docs" / "api-conventions.md").read_text()


def test_every_event_and_public_name_is_in_the_guide():
    text = GUIDE.read_text()
    assert [e.name for e in EVENT_TYPES if f"`{e.name}`" not in text] == []
    assert [n for n in plugins.queues.__all__ if f"`{n}`" not in text] == []


def test_the_other_parts_have_their_sections():
    headings = {line for line in GUIDE.read_text().splitlines() if line.startswith("## ")}
    assert {
        "## Routing",
        "## Callers, announcements, overflow and callbacks",
        "## What each provider does on the wire",
        "## Live state",
    } <= headings
