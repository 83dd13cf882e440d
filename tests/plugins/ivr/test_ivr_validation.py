"""Validation: each kind of problem, reported with its node and field."""

from __future__ import annotations

import uuid

from ivr_helpers import flow, parse

from plugins.calls import Capability
from plugins.ivr.samples import FRONT_DESK
from plugins.ivr.validation import Context, validate

HANGUP = {"type": "hangup"}


def issues(
    document: dict, context: Context | None = None
) -> list[tuple[str, str | None, str | None]]:
    return [(i.code, i.node, i.field) for i in validate(parse(document), context)]


def test_the_sample_flow_is_valid():
    assert issues(FRONT_DESK) == []


def test_schema_errors_name_the_node_and_field():
    document = flow(
        "a",
        a={"type": "say", "text": "", "exits": {"next": "b"}},
        b={
            "type": "gather",
            "prompt": "x",
            "num_digits": 0,
            "exits": {"next": "c", "no_input": "c"},
        },
        c={"type": "transfer", "number": "12345"},
    )
    found = issues(document)
    assert ("schema", "a", "text") in found
    assert ("schema", "b", "num_digits") in found
    assert ("schema", "c", "number") in found


def test_a_bad_template_or_expression_is_a_schema_error():
    document = flow(
        "a",
        a={"type": "say", "text": "Hello {{ name", "exits": {"next": "b"}},
        b={
            "type": "condition",
            "cases": [{"name": "x", "when": "open('f')"}],
            "exits": {"x": "c", "else": "c"},
        },
        c=HANGUP,
    )
    found = issues(document)
    assert ("schema", "a", "text") in found
    assert ("schema", "b", "cases[0].when") in found


def test_unknown_types_and_ids():
    found = issues(flow("a", a={"type": "teleport", "exits": {}}, **{"bad id!": HANGUP}))
    assert ("unknown-type", "a", "type") in found
    assert ("schema", "bad id!", None) in found


def test_unknown_dangling_and_missing_exits():
    document = flow(
        "menu",
        menu={
            "type": "menu",
            "options": [{"key": "1", "label": "sales"}],
            "exits": {"1": "nowhere", "7": "end", "no_input": "end"},
        },
        end=HANGUP,
    )
    found = issues(document)
    assert ("dangling-exit", "menu", "exits.1") in found
    assert ("unknown-exit", "menu", "exits.7") in found
    assert ("missing-exit", "menu", "exits.no_match") in found


def test_a_condition_needs_else_and_a_lookup_needs_error():
    document = flow(
        "c",
        c={"type": "condition", "cases": [{"name": "x", "when": "a > 1"}], "exits": {"x": "l"}},
        l={"type": "http_lookup", "url": "https://crm.example.com/x", "exits": {"next": "end"}},
        end=HANGUP,
    )
    found = issues(document)
    assert ("missing-exit", "c", "exits.else") in found
    assert ("missing-exit", "l", "exits.error") in found


def test_missing_start_and_unreachable_nodes():
    assert ("missing-start", None, "start") in issues(flow("nope", a=HANGUP))
    found = issues(flow("a", a=HANGUP, island=HANGUP))
    assert found == [("unreachable", "island", None)]


def test_a_loop_that_never_waits_or_ends():
    document = flow(
        "a",
        a={"type": "set", "values": {"n": "n + 1"}, "exits": {"next": "b"}},
        b={"type": "say", "text": "again", "exits": {"next": "a"}},
    )
    found = issues(document)
    assert ("endless-loop", "a", None) in found
    assert ("endless-loop", "b", None) in found


def test_a_loop_through_a_menu_is_fine():
    document = flow(
        "menu",
        menu={
            "type": "menu",
            "options": [{"key": "1", "label": "again"}],
            "exits": {"1": "say", "no_input": "end", "no_match": "menu"},
        },
        say={"type": "say", "text": "Again.", "exits": {"next": "menu"}},
        end=HANGUP,
    )
    assert issues(document) == []


def test_provider_capabilities():
    document = flow(
        "ask",
        ask={
            "type": "gather",
            "prompt": "Say it",
            "input": "speech",
            "exits": {"next": "vm", "no_input": "vm"},
        },
        vm={"type": "voicemail"},
    )
    context = Context(
        providers={
            "telnyx": frozenset(set(Capability) - {Capability.SPEECH_RECOGNITION}),
            "basic": frozenset(),
        }
    )
    found = [(i.code, i.node, i.message) for i in validate(parse(document), context)]
    assert (
        "capability",
        "ask",
        "basic cannot do speech-recognition, which this node needs",
    ) in found
    assert (
        "capability",
        "ask",
        "telnyx cannot do speech-recognition, which this node needs",
    ) in found
    assert ("capability", "vm", "basic cannot do recording, which this node needs") in found
    assert len(found) == 3


def test_subflows_must_exist_published_and_not_be_itself():
    me, published, unknown = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    document = flow(
        "a",
        a={"type": "subflow", "flow_id": str(published), "exits": {"next": "b"}},
        b={"type": "subflow", "flow_id": str(unknown), "exits": {"next": "c"}},
        c={"type": "subflow", "flow_id": str(me), "exits": {"next": "d"}},
        d=HANGUP,
    )
    context = Context(published_flows=frozenset({published, me}), flow_id=me)
    assert issues(document, context) == [
        ("subflow", "b", "flow_id"),
        ("subflow", "c", "flow_id"),
    ]


def test_a_gather_needs_a_prompt():
    document = flow("g", g={"type": "gather", "exits": {"next": "e", "no_input": "e"}}, e=HANGUP)
    assert issues(document) == [("invalid", "g", "prompt")]


def test_patterns_re2_cannot_run_are_refused():
    document = flow(
        "g",
        g={
            "type": "gather",
            "prompt": "x",
            "branches": [{"name": "twice", "regex": r"(\d)\1"}],
            "exits": {"twice": "e", "no_match": "e", "no_input": "e"},
        },
        e={"type": "hangup"},
    )
    assert issues(document) == [("schema", "g", "branches[0].regex")]


def test_a_lookup_host_cannot_come_from_variables():
    document = flow(
        "l",
        l={
            "type": "http_lookup",
            "url": "https://{{ host }}/x",
            "exits": {"next": "e", "error": "e"},
        },
        e={"type": "hangup"},
    )
    assert issues(document) == [("schema", "l", "url")]
