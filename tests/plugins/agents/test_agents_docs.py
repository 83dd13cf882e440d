"""The agents documentation stays true: problem types, events, public names, routes and the
transition table."""

from __future__ import annotations

from pathlib import Path

import pytest

import plugins.agents
from kernel import ProblemType
from plugins.agents import AgentState, problems
from plugins.agents.events import EVENT_TYPES
from plugins.agents.presence import TRANSITIONS, allowed

ROOT = Path(__file__).resolve().parents[3]
GUIDE = ROOT / "docs" / "plugins" / "agents.md"
PROBLEMS = [v for v in vars(problems).values() if isinstance(v, ProblemType)]


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p.slug)
def test_every_problem_type_is_listed(problem):
    assert f"`{problem.slug}`" in (ROOT / "docs" / "api-conventions.md").read_text()
    assert f"`{problem.slug}`" in GUIDE.read_text()


def test_every_event_is_in_the_agents_guide():
    text = GUIDE.read_text()
    assert [e.name for e in EVENT_TYPES if f"`{e.name}`" not in text] == []


def test_every_public_name_is_in_the_agents_guide():
    text = GUIDE.read_text()
    assert [n for n in plugins.agents.__all__ if f"`{n}`" not in text] == []


def test_every_route_is_in_the_agents_guide(kraliki_app):
    text = GUIDE.read_text()
    missing = []
    for route in kraliki_app.routes:
        path = getattr(route, "path", "")
        if not path.startswith("/api/v1/agents"):
            continue
        for method in sorted(set(getattr(route, "methods", ())) - {"HEAD", "OPTIONS"}):
            short = path.removeprefix("/api/v1").replace("{agent_id}", "{id}")
            short = short.replace("{team_id}", "{id}").replace("{code_id}", "{id}")
            if short not in text or method not in text:
                missing.append(f"{method} {short}")
    assert missing == []


def test_the_transition_table_is_the_state_machines():
    """Every allowed (cause, from, to) of presence.py is in the guide's table row of that
    from and to, and every row of the table is allowed for the causes it names."""
    rows = {}
    for line in GUIDE.read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`") and cells[1].startswith("`"):
            rows[(cells[0].strip("`"), cells[1].strip("`"))] = cells[2]
    missing = [
        (cause, start.value, end.value)
        for cause, pairs in TRANSITIONS.items()
        for start, end in pairs
        if f"`{cause}`" not in rows.get((start.value, end.value), "")
    ]
    assert missing == []
    for (start, end), causes in rows.items():
        if start in AgentState.__members__.values() and end in AgentState.__members__.values():
            for cause in ("agent", "supervisor", "routing", "timeout", "system"):
                if f"`{cause}`" in causes:
                    assert allowed(cause, AgentState(start), AgentState(end)), (start, end)
