"""Callee scripts: validated with clear errors, chosen per call or by the number dialled."""

from __future__ import annotations

import pytest
from loopback_helpers import place

from plugins.calls import ProviderRefused
from plugins.loopback.carrier.script import (
    MAGIC_NUMBERS,
    Answer,
    Busy,
    Fail,
    Hangup,
    NoAnswer,
    Press,
    Ring,
    Say,
    ScriptError,
    Wait,
    parse_script,
    script_for_number,
)
from plugins.loopback.config import LoopbackSettings

SETTINGS = LoopbackSettings(_env_file=None, default_ring_seconds=3, default_talk_seconds=7)


def test_a_full_script_parses_with_shorthand_for_bare_steps():
    script = parse_script(
        [
            {"step": "wait", "seconds": 0.5},
            {"step": "ring", "seconds": 4},
            {"step": "answer", "by": "machine"},
            {"step": "say", "text": "Hello"},
            {"step": "press", "digits": "12#"},
            {"step": "wait", "seconds": 2},
            "hangup",
        ]
    )
    assert script.before == [Wait(seconds=0.5), Ring(seconds=4)]
    assert script.outcome == Answer(by="machine")
    assert script.after == [Say(text="Hello"), Press(digits="12#"), Wait(seconds=2), Hangup()]


@pytest.mark.parametrize(
    ("steps", "outcome"),
    [
        (["busy"], Busy()),
        (["ring", "no_answer"], NoAnswer()),
        ([{"step": "fail", "cause": "call_rejected"}], Fail(cause="call_rejected")),
        (["answer"], Answer()),
    ],
)
def test_outcomes(steps, outcome):
    assert parse_script(steps).outcome == outcome


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([], "script: List should have at least 1 item"),
        ("busy", "script: Input should be a valid list"),
        (["ring", "wait"], "step 2.seconds: Field required"),
        (["ring"], "the script needs one of answer, busy, no_answer or fail"),
        ([{"step": "dance"}], "step 1: Input tag 'dance'"),
        ([{"step": "ring", "seconds": -1}, "answer"], "step 1.seconds: Input should be greater"),
        ([{"step": "ring", "secs": 1}, "answer"], "step 1.secs: Extra inputs are not permitted"),
        (["answer", {"step": "press", "digits": "12a"}], "step 2.digits: String should match"),
        (["answer", {"step": "say", "text": ""}], "step 2.text: String should have at least"),
        ([{"step": "say", "text": "hi"}, "answer"], "step 1 (say): before the callee answers"),
        (["busy", "hangup"], "step 2 (hangup): nothing can follow busy"),
        (["answer", "busy"], "step 2 (busy): after answering the callee can only"),
        (["answer", "hangup", {"step": "wait", "seconds": 1}], "hangup must be the last step"),
        ([{"step": "answer", "by": "robot"}], "step 1.by: Input should be 'human' or 'machine'"),
        ([{"step": "fail", "cause": "Not Found"}], "step 1.cause: String should match"),
        (["answer"] + [{"step": "wait", "seconds": 1}] * 200, "at most 200 items"),
    ],
)
def test_bad_scripts_say_which_step_and_why(steps, message):
    with pytest.raises(ScriptError) as raised:
        parse_script(steps)
    assert str(raised.value).startswith("invalid loopback script: ")
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("number", "outcome", "after"),
    [
        ("+15005550001", Busy(), []),
        ("+15005550002", NoAnswer(), []),
        ("+15005550003", Fail(cause="unallocated_number"), []),
        ("+15005550004", Answer(by="machine"), ["say", "wait", "hangup"]),
        ("+15005550005", Answer(), ["press", "wait", "hangup"]),
        ("+15005550006", Answer(), ["say", "wait", "hangup"]),
        ("+420601123456", Answer(), ["wait", "hangup"]),
    ],
)
def test_magic_numbers(number, outcome, after):
    script = script_for_number(number, SETTINGS)
    assert script.outcome == outcome
    assert [step.step for step in script.after] == after
    if isinstance(outcome, Answer):
        assert script.before == [Ring(seconds=3)]
        assert Wait(seconds=7) in script.after


def test_the_documented_magic_numbers_are_the_ones_used():
    assert sorted(MAGIC_NUMBERS) == ["0001", "0002", "0003", "0004", "0005", "0006"]


async def test_place_call_refuses_a_bad_script_clearly(provider):
    with pytest.raises(ProviderRefused) as refused:
        await provider.place_call(place(options={"script": ["ring"]}))
    assert refused.value.code == "invalid-script"
    assert "needs one of answer" in refused.value.detail


async def test_place_call_refuses_unknown_options_and_numbers(provider):
    with pytest.raises(ProviderRefused) as refused:
        await provider.place_call(place(options={"scirpt": ["busy"]}))
    assert refused.value.code == "invalid-options"
    assert "scirpt" in refused.value.detail
    with pytest.raises(ProviderRefused) as refused:
        await provider.place_call(place(to="00420601123456"))
    assert refused.value.code == "invalid-number"


def test_the_script_of_a_call_wins_over_its_number(provider):
    chosen = provider.script_of(place(to="+15005550001", options={"script": ["answer"]}))
    assert chosen.outcome == Answer()
    assert provider.script_of(place(to="+15005550001")).outcome == Busy()
