"""The IVR documentation stays true: every node type, setting, problem type, event and route
is documented, the rules quoted from the code are the code's, and the examples (the worked
front desk, the validation report, the plugin node type) are what the code does."""

from __future__ import annotations

import importlib
import json
import re
import sys
import types
import uuid
from pathlib import Path

import pytest
from ivr_helpers import StaticLoader, parse

from kernel import Event, ProblemType
from plugins.ivr import api, problems, tests_api
from plugins.ivr.builtin import BUILTIN_TYPES
from plugins.ivr.config import IvrSettings
from plugins.ivr.events import EVENT_TYPES
from plugins.ivr.nodes import NodeType
from plugins.ivr.registry import IvrState, builtin_types
from plugins.ivr.samples import FRONT_DESK
from plugins.ivr.simulator import Script, simulate
from plugins.ivr.validation import validate

ROOT = Path(__file__).resolve().parents[3]
IVR_MD = ROOT / "docs" / "plugins" / "ivr.md"


class LinkRequested(Event):
    """The event the documented node's effect publishes (``acme.events`` in the guide)."""

    name = "acme.link.requested"
    permission = "acme.links:read"
    aggregate = "call_id"

    call_id: uuid.UUID
    to: str
    link: str


def text() -> str:
    return IVR_MD.read_text()


def section(title: str) -> str:
    """The text of the ``## title`` section, up to the next ``## ``."""
    document = text()
    start = document.index(f"\n## {title}\n")
    end = document.find("\n## ", start + 1)
    return document[start : end if end != -1 else None]


def fenced(block: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", block, re.MULTILINE | re.DOTALL)


def squash(value: str) -> str:
    return " ".join(value.split())


@pytest.mark.parametrize("node_type", [t.name for t in BUILTIN_TYPES])
def test_every_builtin_node_type_has_a_section(node_type):
    assert re.search(rf"^### {re.escape(node_type)}$", text(), re.MULTILINE), node_type


@pytest.mark.parametrize("field", sorted(IvrSettings.model_fields))
def test_every_setting_is_documented(field):
    name = f"`KRALIKI_IVR_{field.upper()}`"
    assert name in (ROOT / "README.md").read_text()
    assert name in text()


@pytest.mark.parametrize(
    "problem",
    [p for p in vars(problems).values() if isinstance(p, ProblemType)],
    ids=lambda p: p.slug,
)
def test_every_problem_type_is_listed(problem):
    assert f"`{problem.slug}`" in (ROOT / "docs" / "api-conventions.md").read_text()
    assert f"`{problem.slug}`" in text()


def test_every_event_is_in_the_ivr_guide():
    missing = [event.name for event in EVENT_TYPES if f"`{event.name}`" not in text()]
    assert missing == []


def test_every_route_is_in_the_api_table():
    table = section("API")
    missing = []
    for router in (api.fixed_router, tests_api.router, api.router):
        for route in router.routes:
            path = "/api/v1/ivr" + route.path.replace("{flow_id}", "{id}")  # type: ignore[attr-defined]
            for method in route.methods:  # type: ignore[attr-defined]
                if f"`{method} {path}`" not in table:
                    missing.append(f"{method} {path}")
    assert missing == []


@pytest.mark.parametrize("module", ["expressions", "templates", "hours"])
def test_the_rules_quoted_are_the_modules_rules(module):
    """ivr.md quotes the "Rules for flow authors" of each module docstring word for word."""
    doc = importlib.import_module(f"plugins.ivr.{module}").__doc__ or ""
    rules = doc.split("Rules for flow authors:")[1].replace("``", "`")
    quoted = squash(text())
    for rule in rules.split("\n- ")[1:]:
        assert squash(rule) in quoted, f"{module}: rule not quoted as in the code: {rule[:60]}"


def test_the_worked_example_is_the_front_desk_sample():
    [document, *_] = fenced(section("Worked example: the front desk"), "json")
    assert json.loads(document) == FRONT_DESK


async def test_the_worked_example_walkthrough_matches_a_simulation():
    parsed = parse(FRONT_DESK)
    script = Script.model_validate(
        {
            "at": "2026-11-23T10:00:00-05:00",
            "lookups": {"lookup": {"status": 200, "json": {"name": "Bo", "tier": "silver"}}},
            "steps": [{"digits": "1"}],
        }
    )
    result = await simulate(parsed, StaticLoader(parsed), script)
    walk = section("Worked example: the front desk")
    assert ", ".join(f"`{step}`" for step in result.path) in squash(walk)
    assert f'"{result.prompts[1]}"' in squash(walk)


def test_the_validation_example_is_what_validation_says():
    draft, report = (json.loads(block) for block in fenced(section("Validation"), "json")[:2])
    issues = [issue.as_dict() for issue in validate(parse(draft))]
    assert report == {"valid": False, "issues": issues}
    codes = re.findall(r"^\| `([a-z-]+)` \|", section("Validation"), re.MULTILINE)
    assert {issue["code"] for issue in issues} <= set(codes)


async def test_the_plugin_node_type_example_runs(monkeypatch):
    block = next(
        code
        for code in fenced(section("Adding a node type from your plugin"), "python")
        if "class SmsLinkNode" in code
    )
    module = types.ModuleType("acme_ivr_nodes")  # pydantic resolves annotations in it
    monkeypatch.setitem(sys.modules, module.__name__, module)
    acme, acme_events = types.ModuleType("acme"), types.ModuleType("acme.events")
    acme_events.LinkRequested = LinkRequested  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "acme", acme)
    monkeypatch.setitem(sys.modules, "acme.events", acme_events)
    exec(compile(block, "ivr.md", "exec"), module.__dict__)  # our own documentation
    node_type = module.SmsLinkNode()
    assert isinstance(node_type, NodeType)
    registry = builtin_types()
    registry.register(node_type.name, node_type, plugin="acme")
    state = IvrState(settings=IvrSettings(), types=registry)
    [usage] = [
        json.loads(code)
        for code in fenced(section("Adding a node type from your plugin"), "json")
        if "acme.sms_link" in code
    ]
    document = {
        "start": "sms",
        "nodes": {"sms": usage, "goodbye": {"type": "hangup", "message": "Goodbye."}},
    }
    parsed = state.parse(document)
    assert validate(parsed) == []
    result = await simulate(
        parsed, StaticLoader(parsed), Script.model_validate({"variables": {"account": "42"}})
    )
    assert result.variables["sms_link"] == "https://pay.acme.example.com/42"
    assert result.path == ["sms:next", "goodbye:ended"]
    assert result.prompts[0] == "We are sending you a link by text message."
    assert [effect.model_dump() for effect in result.effects] == [
        {
            "node": "sms",
            "node_type": "acme.sms_link",
            "depth": 0,
            "kind": "acme.text_link",
            "detail": {"to": "+15550100", "link": "https://pay.acme.example.com/42"},
        }
    ]
