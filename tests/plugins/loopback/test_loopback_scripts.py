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


def test_a_simulated_agents_phone_is_written_in_shorthand():
    answers = parse_script([{"answer_after": 2}, {"hangup_after": 30}])
    assert answers.steps == [Ring(seconds=2), Answer(), Wait(seconds=30), Hangup()]
    declines = parse_script([{"decline_after": 3}])
    assert declines.steps == [Ring(seconds=3), Busy()]
    # A shorthand is checked like the steps it stands for.
    with pytest.raises(ScriptError, match=r"step 1.seconds: Input should be greater"):
        parse_script([{"answer_after": -1}])
    with pytest.raises(ScriptError, match="step 1: Unable to extract tag"):
        parse_script([{"answer_after": 1, "by": "machine"}])


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


@pytest.mark.parametrize(
    ("steps", "problems"),
    [
        ([{"answer_after": 2}, {"hangup_after": 20}], []),
        (["ring", {"step": "answer", "by": "machine"}, "hangup"], []),
        ("answer", [("", "a script is a list of steps")]),
        ([{"answer_after": 2}, {"hangup_after": -1}], [("[1].hangup_after", "greater than")]),
        ([{"decline_after": "3s"}], [("[0].decline_after", "valid number")]),
        (["answer", {"step": "dance"}], [("[1].step", "unknown step 'dance'")]),
        ([7], [("[0]", "a step is an object")]),
        ([{"step": "wait"}, "answer"], [("[0].seconds", "Field required")]),
        ([{"answer_after": 1}, "busy"], [("[1]", "after answering the callee can only")]),
        ([{"decline_after": 3}, {"hangup_after": 5}], [("[1]", "nothing can follow busy")]),
        ([{"step": "wait", "seconds": 1}], [("", "needs one of answer")]),
    ],
)
def test_validate_script_places_each_problem_in_the_list_as_written(steps, problems):
    from plugins.loopback import validate_script

    found = validate_script(steps)
    assert [where for where, _ in found] == [where for where, _ in problems]
    assert all(part in why for (_, why), (_, part) in zip(found, problems, strict=True))


def test_validate_script_agrees_with_the_carrier():
    from plugins.loopback import validate_script

    for steps in (["ring"], ["busy", "hangup"], [{"answer_after": 1}, {"hangup_after": 1}]):
        try:
            parse_script(steps)
            runs = True
        except ScriptError:
            runs = False
        assert runs == (validate_script(steps) == [])


def test_the_callees_setting_gives_a_number_its_scripts_in_turn(provider, monkeypatch):
    callees = {"+15005550199": [["busy"], [{"answer_after": 1}, {"hangup_after": 5}]]}
    settings = LoopbackSettings(_env_file=None, callees=callees)
    monkeypatch.setattr(provider.state, "settings", settings)
    turns = [provider.script_of(place(to="+15005550199")).outcome for _ in range(3)]
    assert turns == [Busy(), Answer(), Answer()]  # the last one for every further call
    # the setting wins over the number's last digits; a call's own script over both
    monkeypatch.setattr(
        provider.state,
        "settings",
        LoopbackSettings(_env_file=None, callees={"+15005550001": [["answer"]]}),
    )
    assert provider.script_of(place(to="+15005550001")).outcome == Answer()
    chosen = provider.script_of(place(to="+15005550001", options={"script": ["busy"]}))
    assert chosen.outcome == Busy()


def test_the_callees_setting_refuses_a_bad_script():
    with pytest.raises(ValueError, match=r"\+15005550199: invalid loopback script"):
        LoopbackSettings(_env_file=None, callees={"+15005550199": [["ring"]]})
    with pytest.raises(ValueError, match="at least one script"):
        LoopbackSettings(_env_file=None, callees={"+15005550199": []})
