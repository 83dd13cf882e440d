"""Every built-in node type, run by the engine against a scripted caller."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from ivr_helpers import MONDAY_10AM, flow, published_version, run

HANGUP = {"type": "hangup"}


def menu_flow(**menu: object) -> dict:
    node = {
        "type": "menu",
        "options": [{"key": "1", "label": "sales"}, {"key": "2", "label": "support"}],
        "exits": {"1": "sales", "2": "support", "no_input": "bye", "no_match": "bye"},
        **menu,
    }
    return flow(
        "menu",
        menu=node,
        sales={"type": "hangup", "message": "Sales."},
        support={"type": "hangup", "message": "Support."},
        bye={"type": "hangup", "message": "Bye."},
    )


async def test_say_play_and_hangup():
    sim = await run(
        flow(
            "hello",
            hello={"type": "say", "text": "Hello {{ name }}", "exits": {"next": "music"}},
            music={
                "type": "play",
                "url": "https://cdn.example.com/a.mp3",
                "exits": {"next": "end"},
            },
            end={"type": "hangup", "message": "Goodbye."},
        ),
        variables={"name": "Ada"},
    )
    assert sim.prompts == [
        "Hello Ada",
        "[audio https://cdn.example.com/a.mp3]",
        "Goodbye.",
        "[hangup]",
    ]
    assert sim.path == ["hello:next", "music:next", "end:ended"]
    assert sim.outcome.kind == "hangup"
    assert sim.outcome.node == "end"


async def test_menu_builds_its_prompt_and_branches_by_key():
    sim = await run(menu_flow(greeting="Welcome."), {"digits": "2"})
    assert sim.prompts[0] == "Welcome. For sales, press 1. For support, press 2."
    assert sim.path == ["menu:2", "support:ended"]
    assert sim.instructions[0]["kind"] == "gather"
    assert sim.instructions[0]["num_digits"] == 1


async def test_menu_asks_again_after_silence_then_leaves_through_no_input():
    sim = await run(menu_flow(retries=2), {"silence": True}, {"silence": True}, {"silence": True})
    assert sim.path == ["menu:no_input", "bye:ended"]
    assert sim.used_steps == 3
    assert sim.prompts.count("Sorry, I did not get that.") == 2


async def test_menu_wrong_key_then_right_key():
    sim = await run(menu_flow(), {"digits": "9"}, {"digits": "1"})
    assert sim.path == ["menu:1", "sales:ended"]
    assert "Sorry, that is not one of the choices." in sim.prompts


async def test_menu_no_match_after_retries():
    sim = await run(menu_flow(retries=0), {"digits": "9"})
    assert sim.path == ["menu:no_match", "bye:ended"]


async def test_speech_menu_matches_keywords():
    sim = await run(
        menu_flow(
            input="dtmf speech",
            options=[
                {"key": "1", "label": "sales", "keywords": ["buy", "sales"]},
                {"key": "2", "label": "support"},
            ],
        ),
        {"speech": "I want to buy a phone"},
    )
    assert sim.path == ["menu:1", "sales:ended"]
    gather = sim.instructions[0]
    assert (gather["dtmf"], gather["speech"]) == (True, True)
    assert "or say buy" in sim.prompts[0]


def gather_flow(**gather: object) -> dict:
    node = {"type": "gather", "prompt": "Your account number?", **gather}
    return flow(
        "ask", ask=node, ok={"type": "hangup"}, bad={"type": "hangup"}, none={"type": "hangup"}
    )


async def test_gather_regex_branch_keeps_the_value():
    document = gather_flow(
        num_digits=6,
        save_as="account",
        branches=[{"name": "valid", "regex": r"\d{6}"}],
        exits={"valid": "ok", "no_match": "bad", "no_input": "none"},
    )
    sim = await run(document, {"digits": "123456"})
    assert sim.path == ["ask:valid", "ok:ended"]
    assert sim.variables["account"] == "123456"
    assert sim.steps[1].detail == {"input": "digits", "value": "123456"}


async def test_a_sensitive_gather_keeps_the_value_out_of_steps():
    document = gather_flow(
        sensitive=True,
        save_as="pin",
        exits={"next": "ok", "no_input": "none"},
    )
    sim = await run(document, {"digits": "4321"})
    assert sim.variables["pin"] == "4321"
    assert "4321" not in str([step.detail for step in sim.steps])


async def test_gather_without_branches_takes_any_answer():
    sim = await run(gather_flow(exits={"next": "ok", "no_input": "none"}), {"speech": "hello"})
    assert sim.path == ["ask:next", "ok:ended"]


async def test_gather_exact_digits_and_keywords():
    document = gather_flow(
        input="dtmf speech",
        branches=[
            {"name": "yes", "digits": "1", "keywords": ["yes", "yeah"]},
            {"name": "no", "digits": "2", "keywords": ["no"]},
        ],
        exits={"yes": "ok", "no": "bad", "no_match": "none", "no_input": "none"},
    )
    assert (await run(document, {"speech": "Yeah sure"})).path[0] == "ask:yes"
    assert (await run(document, {"digits": "2"})).path[0] == "ask:no"
    assert (await run(document, {"speech": "maybe"}, {"speech": "nope"}, {"silence": True})).path[
        0
    ] == "ask:no_input"


async def test_business_hours_open_closed_and_holiday():
    hours = {
        "timezone": "America/New_York",
        "weekly": {"mon": [{"open": "09:00", "close": "17:00"}]},
        "holidays": [{"date": "2026-11-23", "name": "Office party"}],
    }
    document = flow(
        "hours",
        hours={"type": "business_hours", "hours": hours, "exits": {"open": "a", "closed": "b"}},
        a=HANGUP,
        b=HANGUP,
    )
    assert (await run(document, at="2026-11-30T10:00:00-05:00")).path[0] == "hours:open"
    assert (await run(document, at="2026-11-30T18:00:00-05:00")).path[0] == "hours:closed"
    # a holiday without a holiday exit is closed
    assert (await run(document, at=MONDAY_10AM)).path[0] == "hours:closed"
    document["nodes"]["hours"]["exits"]["holiday"] = "a"
    assert (await run(document, at=MONDAY_10AM)).path[0] == "hours:holiday"


async def test_condition_and_set():
    document = flow(
        "count",
        count={
            "type": "set",
            "values": {"visits": "visits + 1", "vip": 'tier == "gold"'},
            "exits": {"next": "check"},
        },
        check={
            "type": "condition",
            "cases": [{"name": "loyal", "when": "vip and visits > 2"}],
            "exits": {"loyal": "a", "else": "b"},
        },
        a=HANGUP,
        b=HANGUP,
    )
    sim = await run(document, variables={"visits": 2, "tier": "gold"})
    assert sim.path[:2] == ["count:next", "check:loyal"]
    assert sim.variables["visits"] == 3
    assert (await run(document, variables={"visits": 0, "tier": "gold"})).path[1] == "check:else"


async def test_language_switch_changes_prompts_and_gathers():
    document = flow(
        "es",
        es={"type": "language", "language": "es-ES", "exits": {"next": "hola"}},
        hola={"type": "say", "text": "Hola", "exits": {"next": "ask"}},
        ask={
            "type": "gather",
            "prompt": "Marque",
            "input": "speech",
            "exits": {"next": "a", "no_input": "a"},
        },
        a=HANGUP,
    )
    sim = await run(document, {"speech": "uno"})
    assert sim.instructions[0]["language"] == "es-ES"
    assert sim.instructions[1]["language"] == "es-ES"
    assert sim.instructions[1]["prompt"][0]["language"] == "es-ES"


async def test_transfer_dials_and_ends_when_the_target_answered():
    document = flow(
        "t",
        t={
            "type": "transfer",
            "number": "+15551230001",
            "message": "Connecting.",
            "caller_id": "called",
        },
    )
    sim = await run(document, caller="+15550100", called="+15550199")
    assert sim.outcome.kind == "transferred"
    assert sim.outcome.detail == {"to": "+15551230001"}
    assert sim.instructions[-2:] == [
        {
            "kind": "dial",
            "number": "+15551230001",
            "caller_id": "+15550199",
            "timeout_seconds": 30,
            "report_outcome": True,
        },
        {"kind": "hangup"},
    ]
    assert sim.prompts == ["Connecting.", "[transfer to +15551230001]", "[hangup]"]
    assert (sim.path, sim.used_steps) == (["t:ended"], 0)


TRANSFER_WITH_EXITS = flow(
    "t",
    t={
        "type": "transfer",
        "number": "+15551230001",
        "exits": {"no_answer": "vm", "busy": "later", "failed": "sorry"},
    },
    vm={"type": "voicemail"},
    later={"type": "hangup", "message": "They are busy. Call later."},
    sorry={"type": "hangup", "message": "Sorry."},
)


@pytest.mark.parametrize(
    ("outcome", "path", "kind"),
    [
        ("answered", ["t:ended"], "transferred"),
        ("no-answer", ["t:no_answer", "vm:ended"], "voicemail"),
        ("busy", ["t:busy", "later:ended"], "hangup"),
        ("failed", ["t:failed", "sorry:ended"], "hangup"),
    ],
)
async def test_transfer_outcomes_take_their_exits(outcome, path, kind):
    sim = await run(TRANSFER_WITH_EXITS, {"transfer": outcome})
    assert (sim.path, sim.outcome.kind, sim.used_steps) == (path, kind, 1)
    if outcome != "answered":
        [waited] = [s for s in sim.steps if s.node == "t" and s.exit]
        assert waited.detail == {"to": "+15551230001", "status": outcome}


async def test_failed_is_the_exit_of_an_unreached_transfer_without_its_own():
    document = flow(
        "t",
        t={"type": "transfer", "number": "+15551230001", "exits": {"failed": "sorry"}},
        sorry={"type": "hangup", "message": "Sorry."},
    )
    for outcome in ("busy", "no-answer", "failed"):
        sim = await run(document, {"transfer": outcome})
        assert sim.path == ["t:failed", "sorry:ended"]


async def test_an_unreached_transfer_without_exits_apologizes_and_hangs_up():
    document = flow(
        "t",
        t={"type": "transfer", "number": "+15551230001", "unreached_message": "No luck, {{ n }}."},
    )
    sim = await run(document, {"transfer": "no-answer"}, variables={"n": "Ada"})
    assert sim.outcome.kind == "transfer-failed"
    assert sim.outcome.detail == {"to": "+15551230001", "status": "no-answer"}
    assert sim.prompts[-2:] == ["No luck, Ada.", "[hangup]"]


async def test_a_transfer_outcome_where_the_flow_listens_leaves_the_script_incomplete():
    document = flow(
        "g",
        g={"type": "gather", "prompt": "Key?", "exits": {"default": "h"}},
        h={"type": "hangup"},
    )
    sim = await run(document, {"transfer": "busy"})
    assert sim.outcome.kind == "incomplete"
    assert "transfer outcome" in sim.outcome.detail["reason"]


def test_a_script_step_is_exactly_one_thing():
    from pydantic import ValidationError

    from plugins.ivr.simulator import ScriptStep

    with pytest.raises(ValidationError, match="transfer"):
        ScriptStep.model_validate({"digits": "1", "transfer": "busy"})


async def test_voicemail_records_then_says_goodbye():
    sim = await run(flow("vm", vm={"type": "voicemail", "max_seconds": 60}))
    kinds = [i["kind"] for i in sim.instructions]
    assert kinds == ["say", "record", "say", "hangup"]  # the goodbye follows on any provider
    assert sim.outcome.kind == "voicemail"
    assert sim.used_steps == 0


async def test_subflow_runs_and_returns():
    sub_id, sub = published_version(
        flow(
            "hi",
            hi={"type": "say", "text": "In the sub-flow.", "exits": {"next": "back"}},
            back={"type": "return"},
        )
    )
    document = flow(
        "go",
        go={"type": "subflow", "flow_id": str(sub_id), "exits": {"next": "end"}},
        end={"type": "hangup", "message": "Back."},
    )
    sim = await run(document, published={sub_id: sub})
    assert sim.prompts == ["In the sub-flow.", "Back.", "[hangup]"]
    assert sim.path == ["1/hi:next", "1/back:return", "go:next", "end:ended"]


async def test_return_in_a_main_flow_hangs_up():
    sim = await run(flow("r", r={"type": "return"}))
    assert sim.outcome.kind == "hangup"


async def test_a_missing_subflow_ends_in_the_fallback():
    document = flow(
        "go",
        go={
            "type": "subflow",
            "flow_id": "00000000-0000-0000-0000-000000000001",
            "exits": {"next": "end"},
        },
        end=HANGUP,
    )
    document["fallback"] = {"message": "Sorry.", "transfer_to": "+15551230000"}
    sim = await run(document)
    assert sim.outcome.kind == "error"
    assert sim.outcome.detail["fallback"] == "transfer"
    assert sim.prompts == ["Sorry.", "[transfer to +15551230000]", "[hangup]"]


async def test_an_expression_error_ends_in_the_apology():
    document = flow(
        "bad",
        bad={
            "type": "condition",
            "cases": [{"name": "x", "when": "name - 1 > 0"}],
            "exits": {"x": "a", "else": "a"},
        },
        a=HANGUP,
    )
    sim = await run(document, variables={"name": "Ada"})
    assert sim.outcome.kind == "error"
    assert sim.instructions[-1] == {"kind": "hangup"}
    assert sim.steps[-1].event == "failed"


async def test_an_endless_loop_at_runtime_ends_in_the_fallback():
    document = flow(
        "a",
        a={
            "type": "condition",
            "cases": [{"name": "out", "when": "false_flag"}],
            "exits": {"out": "end", "else": "b"},
        },
        b={"type": "set", "values": {"n": "1"}, "exits": {"next": "a"}},
        end=HANGUP,
    )
    sim = await run(document)
    assert sim.outcome.kind == "error"
    assert "endless loop" in sim.outcome.detail["error"]


async def test_the_caller_hanging_up_during_a_menu():
    sim = await run(menu_flow(), {"hangup": True})
    assert (sim.outcome.kind, sim.outcome.node) == ("caller-hangup", "menu")


async def test_a_script_that_runs_out():
    sim = await run(menu_flow())
    assert (sim.outcome.kind, sim.outcome.node) == ("incomplete", "menu")


@pytest.mark.parametrize(
    ("answer", "exit_"),
    [
        ({"status": 200, "json": {"customer": {"tier": "gold"}}}, "next"),
        ({"status": 404}, "not_found"),
        ({"status": 500}, "error"),
        ({"fail": "timeout"}, "error"),
    ],
)
async def test_lookup_canned_answers(answer, exit_):
    document = flow(
        "crm",
        crm={
            "type": "http_lookup",
            "url": "https://crm.example.com/c?phone={{ call.caller }}",
            "assign": {"tier": "customer.tier"},
            "exits": {"next": "a", "not_found": "a", "error": "a"},
        },
        a=HANGUP,
    )
    sim = await run(document, lookups={"crm": answer})
    assert sim.path[0] == f"crm:{exit_}"
    if exit_ == "next":
        assert sim.variables["tier"] == "gold"


async def test_a_pathological_pattern_cannot_stall_the_worker():
    """RE2 matches in linear time: with Python's re this takes longer than the universe."""
    document = gather_flow(
        input="speech",
        branches=[{"name": "evil", "regex": "(a+)+$"}],
        exits={"evil": "ok", "no_match": "bad", "no_input": "none"},
        retries=0,
    )
    sim = await run(document, {"speech": "a" * 400 + "!"})
    assert sim.path[0] == "ask:no_match"


async def test_a_call_keeps_the_subflow_version_current_when_it_started():
    from ivr_helpers import StaticLoader, parse

    from plugins.ivr.engine import FlowRunner, RunEnv
    from plugins.ivr.nodes import CallerInput, CallFacts

    def sub(text: str) -> dict:
        return flow(
            "hi",
            hi={"type": "say", "text": text, "exits": {"next": "back"}},
            back={"type": "return"},
        )

    sub_id, first = published_version(sub("Version one."))
    _, second = published_version(sub("Version two."))
    document = menu_flow()
    document["nodes"]["sales"] = {
        "type": "subflow",
        "flow_id": str(sub_id),
        "exits": {"next": "bye"},
    }
    main = parse(document)
    loader = StaticLoader(main, {sub_id: first})

    async def no_lookup(node, request):
        raise AssertionError("no lookups here")

    now = datetime.now(UTC)
    env = RunEnv(call=CallFacts("+15550100", "+15550199"), clock=lambda: now, lookup=no_lookup)
    runner = FlowRunner(loader, env)
    started = await runner.start(main)
    assert started.state.pins == {str(sub_id): first.version_id}
    loader.published_flows[sub_id] = second  # published while the call listens to the menu
    resumed = await runner.resume(started.state, CallerInput(digits="1"))
    assert resumed is not None
    assert resumed.instructions[0].text == "Version one."
