"""The agent assist guide stays true: every route, problem type, event, permission and public
name is in it (problem types also in the API conventions)."""

from __future__ import annotations

from pathlib import Path

import pytest

import plugins.agent_assist
from kernel import ProblemType
from plugins.agent_assist import problems
from plugins.agent_assist.events import EVENT_TYPES
from plugins.agent_assist.permissions import PERMISSIONS
from plugins.agent_assist.plugin import kraliki_routes

ROOT = Path(__file__).resolve().parents[3]
GUIDE = ROOT / "docs" / "plugins" / "agent-assist.md"
PROBLEMS = [v for v in vars(problems).values() if isinstance(v, ProblemType)]


def routes() -> list[str]:
    found = []
    for route in [r for router in kraliki_routes() for r in router.routes]:
        for method in sorted(route.methods - {"HEAD"}):  # type: ignore[attr-defined]
            found.append(f"{method} /agent-assist{route.path}")  # type: ignore[attr-defined]
    return found


@pytest.mark.parametrize("route", routes())
def test_every_route_is_in_the_guide(route):
    assert f"`{route}" in GUIDE.read_text()


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p.slug)
def test_every_problem_type_is_listed(problem):
    assert f"`{problem.slug}`" in (ROOT / "docs" / "api-conventions.md").read_text()
    assert problem.slug in GUIDE.read_text()


def test_every_event_permission_and_public_name_is_in_the_guide():
    text = GUIDE.read_text()
    assert [e.name for e in EVENT_TYPES if f"`{e.name}`" not in text] == []
    names = [f"{p.resource}:{p.action}" for p in PERMISSIONS]
    assert [n for n in names if f"`{n}`" not in text] == []
    assert [n for n in plugins.agent_assist.__all__ if f"`{n}`" not in text] == []
