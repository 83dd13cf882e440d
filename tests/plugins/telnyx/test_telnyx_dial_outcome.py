"""A dial that reports its outcome: the transfer parks the caller and marks the callee's leg,
whose ``call.hangup`` comes back as ``InstructionsNeeded("dialed")`` with the dial's status;
the double plays each way a transfer ends; end to end, the call's timeline shows it."""

from __future__ import annotations

import base64
import json
import uuid

import httpx
import pytest
from telnyx.lib.webhook_verification import verify_webhook_signature
from telnyx_helpers import CALLEE, CALLER, as_json, call_ref

from plugins.calls import (
    CallProgress,
    CallStatus,
    Dial,
    InstructionsNeeded,
    PlaceCall,
    Say,
)
from plugins.telnyx import webhooks as telnyx_webhooks
from plugins.telnyx.client_state import CallState, decode, encode
from plugins.telnyx.steps import compact
from plugins.telnyx.testing import CALLEE_HANGUPS, TRANSFER_OUTCOMES, TelnyxDouble
from plugins.telnyx.webhooks import parse_body
from plugins.webhooks.testing import WebhookReceiver

AGENT = "+420777000111"


def decoded(client_state: str) -> dict:
    return json.loads(base64.b64decode(client_state))


def reported(caller: str, *, call_id: str = "c-1") -> str:
    """The state a reported dial leaves on the callee's leg."""
    state = CallState(call_id, "call.hangup", (), caller, report="dialed")
    return encode(state, max_length=4096)


async def dialled(provider) -> str:
    placed = await provider.place_call(
        PlaceCall(call_id=uuid.uuid4(), from_number=CALLER, to_number=CALLEE)
    )
    return placed.provider_call_id


# --- the transfer command ------------------------------------------------------------------


async def test_a_reported_dial_parks_the_caller_and_marks_the_callee_leg(provider, telnyx):
    call_control_id = await dialled(provider)
    call = call_ref(call_control_id)
    dial = Dial(number=AGENT, caller_id=CALLER, timeout_seconds=20, report_outcome=True)
    await provider.execute(call, [dial, Say(text="Never said.")])
    [transfer] = telnyx.commands(call_control_id)
    assert transfer.action == "transfer"
    target_state = decoded(transfer.body.pop("target_leg_client_state"))
    assert transfer.body == {
        "to": AGENT,
        "from": CALLER,
        "timeout_secs": 20,
        "webhook_url": transfer.body["webhook_url"],
        "park_after_unbridge": "self",
        "command_id": transfer.command_id,
    }
    assert target_state == {
        "call_id": str(call.id),
        "on": "call.hangup",
        "rest": [],  # the steps after it are not run: the platform answers the report
        "call_control_id": call_control_id,
        "report": "dialed",
    }


async def test_a_reported_dial_alone_still_parks_the_caller(provider, telnyx):
    call_control_id = await dialled(provider)
    await provider.execute(call_ref(call_control_id), [Dial(number=AGENT, report_outcome=True)])
    [transfer] = telnyx.commands(call_control_id, "transfer")
    assert transfer.body["park_after_unbridge"] == "self"
    assert decoded(transfer.body["target_leg_client_state"])["report"] == "dialed"


async def test_steps_before_a_reported_dial_carry_it_and_nothing_after(provider, telnyx):
    call_control_id = await dialled(provider)
    dial = Dial(number=AGENT, report_outcome=True)
    steps = [Say(text="Connecting you."), dial, Say(text="Never said.")]
    await provider.execute(call_ref(call_control_id), steps)
    [speak] = telnyx.commands(call_control_id, "speak")
    assert decoded(speak.body["client_state"])["rest"] == [compact(dial)]


# --- the state -----------------------------------------------------------------------------


def test_the_report_mark_survives_the_state_round_trip():
    state = CallState("c-1", "call.hangup", (), "v3:caller", report="dialed")
    assert decode(encode(state, max_length=4096)) == state
    long = ({"kind": "say", "text": "x" * 3000},)
    packed = CallState("c-1", "call.hangup", long, "v3:caller", "dialed")
    value = encode(packed, max_length=1024)
    assert base64.b64decode(value)[:1] == b"\x78"  # compressed, mark and all
    assert decode(value) == packed


@pytest.mark.parametrize(
    ("document", "report"),
    [
        ({"call_id": "c-1", "on": "call.hangup", "rest": [], "call_control_id": "v3:a"}, None),
        ({"call_id": "c-1", "on": "call.hangup", "report": "dialed"}, "dialed"),
        ({"call_id": "c-1", "on": "call.hangup", "report": "something-else"}, None),
        ({"call_id": "c-1", "on": "call.hangup", "report": 1}, None),
    ],
)
def test_states_with_and_without_the_mark_decode(document, report):
    state = decode(base64.b64encode(json.dumps(document).encode()).decode())
    assert (state.call_id, state.on, state.report) == ("c-1", "call.hangup", report)


# --- the callee's hangup -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cause", "sip", "status"),
    [
        ("normal_clearing", "200", CallStatus.COMPLETED),
        ("time_limit", "200", CallStatus.COMPLETED),
        ("user_busy", "486", CallStatus.BUSY),
        ("unspecified", "486", CallStatus.BUSY),
        ("timeout", "unspecified", CallStatus.NO_ANSWER),
        ("no_answer", "480", CallStatus.NO_ANSWER),
        ("originator_cancel", "487", CallStatus.CANCELED),
        ("call_rejected", "603", CallStatus.FAILED),
        ("unallocated_number", "404", CallStatus.FAILED),
        ("not_found", "404", CallStatus.FAILED),
        ("unspecified", "503", CallStatus.FAILED),
        ("something_new", None, CallStatus.FAILED),
    ],
)
def test_a_reported_callee_hangup_is_dialed_with_its_status(cause, sip, status):
    double = TelnyxDouble()  # not started: it only builds bodies here
    caller = double.outgoing_call(CALLER, CALLEE).call_control_id
    callee = double.outgoing_call(CALLER, AGENT, client_state=reported(caller))
    document = double.build_event(
        callee.call_control_id, "call.hangup", hangup_cause=cause, sip_hangup_cause=sip
    )
    progress, needed = parse_body(json.dumps(document).encode()).events
    assert isinstance(progress, CallProgress)
    assert (progress.provider_call_id, progress.status, progress.hangup_cause) == (
        callee.call_control_id,
        status,
        cause,
    )
    assert needed == InstructionsNeeded(caller, "dialed", dial_status=status)


def test_a_status_a_dial_cannot_end_with_reads_as_failed(monkeypatch):
    monkeypatch.setattr(telnyx_webhooks, "hangup_status", lambda cause, sip: CallStatus.RINGING)
    double = TelnyxDouble()
    caller = double.outgoing_call(CALLER, CALLEE).call_control_id
    callee = double.outgoing_call(CALLER, AGENT, client_state=reported(caller))
    document = double.build_event(callee.call_control_id, "call.hangup")
    _, needed = parse_body(json.dumps(document).encode()).events
    assert needed == InstructionsNeeded(caller, "dialed", dial_status=CallStatus.FAILED)


def test_without_the_mark_the_callee_hangup_continues_the_script():
    double = TelnyxDouble()
    caller = double.outgoing_call(CALLER, CALLEE).call_control_id
    rest = (compact(Say(text="They hung up.")),)
    state = encode(CallState("c-1", "call.hangup", rest, caller), max_length=4096)
    callee = double.outgoing_call(CALLER, AGENT, client_state=state)
    document = double.build_event(callee.call_control_id, "call.hangup", hangup_cause="user_busy")
    _, needed = parse_body(json.dumps(document).encode()).events
    assert needed == InstructionsNeeded(
        caller, "continue", instructions=as_json(Say(text="They hung up."))
    )


def test_the_callers_own_hangup_reports_no_dial():
    """The mark names the caller: the caller's leg hanging up with it is not a dial's end."""
    double = TelnyxDouble()
    caller = double.outgoing_call(CALLER, CALLEE)
    caller.client_state = reported(caller.call_control_id)
    document = double.build_event(caller.call_control_id, "call.hangup")
    [progress] = parse_body(json.dumps(document).encode()).events
    assert isinstance(progress, CallProgress)


@pytest.mark.parametrize("event_type", ["call.initiated", "call.answered"])
def test_the_callee_leg_ringing_or_answering_reports_no_dial(event_type):
    double = TelnyxDouble()
    caller = double.outgoing_call(CALLER, CALLEE).call_control_id
    callee = double.outgoing_call(CALLER, AGENT, client_state=reported(caller))
    document = double.build_event(callee.call_control_id, event_type)
    events = parse_body(json.dumps(document).encode()).events
    assert [type(event) for event in events] == [CallProgress]


# --- the double plays the transfer's end ---------------------------------------------------


async def transfer(telnyx: TelnyxDouble, url: str, to: str = AGENT, **body) -> str:
    """A live call transferred through the double's REST API; its events go to ``url``."""
    caller = telnyx.outgoing_call(CALLER, CALLEE, webhook_url=url)
    caller.answered = True
    async with httpx.AsyncClient(base_url=telnyx.api_base_url) as http:
        answer = await http.post(
            f"/calls/{caller.call_control_id}/actions/transfer",
            json={"to": to, "webhook_url": url, **body},
            headers={"Authorization": f"Bearer {telnyx.api_key}"},
        )
    assert answer.status_code == 200, answer.text
    return caller.call_control_id


def _headers(sent) -> dict[str, str]:
    return {"telnyx-timestamp": sent.timestamp, "telnyx-signature-ed25519": sent.signature}


@pytest.mark.parametrize("outcome", TRANSFER_OUTCOMES)
async def test_the_double_plays_each_way_a_transfer_ends(telnyx, outcome):
    target_state = reported("v3:caller")
    async with WebhookReceiver() as receiver:
        url = f"{receiver.url}/hook"
        telnyx.transfer_outcomes[AGENT] = outcome
        caller = await transfer(
            telnyx, url, target_leg_client_state=target_state, park_after_unbridge="self"
        )
        leg = telnyx.transfer_leg(caller)
        assert (leg.to, leg.transfer_of, leg.outcome, leg.parks_caller) == (
            AGENT,
            caller,
            outcome,
            True,
        )
        sent = await telnyx.end_transfer(caller)
        received = list(receiver.requests)
    bodies = [event.json()["data"] for event in sent]
    by_leg = [(body["payload"]["call_control_id"], body["event_type"]) for body in bodies]
    expected = [(leg.call_control_id, "call.initiated")]
    if outcome == "answered":
        expected.append((leg.call_control_id, "call.answered"))
    if outcome == "canceled":  # the caller gave up while it rang
        expected.append((caller, "call.hangup"))
    expected.append((leg.call_control_id, "call.hangup"))
    assert by_leg == expected
    [hangup] = [
        body["payload"]
        for body in bodies
        if (body["payload"]["call_control_id"], body["event_type"])
        == (leg.call_control_id, "call.hangup")
    ]
    assert {key: hangup[key] for key in CALLEE_HANGUPS[outcome]} == CALLEE_HANGUPS[outcome]
    assert hangup["client_state"] == target_state
    assert (hangup["from"], hangup["to"], hangup["state"]) == (CALLER, AGENT, "hangup")
    assert [request.body for request in received] == [event.body for event in sent]
    for request in received:  # signed as every webhook of the double is
        verify_webhook_signature(request.body, request.headers, telnyx.public_key)
    assert not leg.alive
    assert telnyx.call(caller).alive is (outcome != "canceled")


async def test_a_transfer_answers_unless_told_otherwise(telnyx):
    async with WebhookReceiver() as receiver:
        caller = await transfer(telnyx, f"{receiver.url}/hook", park_after_unbridge="self")
        assert telnyx.transfer_leg(caller).outcome == "answered"
        sent = await telnyx.end_transfer(caller, "busy")  # overridden for this transfer
        assert sent[-1].json()["data"]["payload"]["hangup_cause"] == "user_busy"
        with pytest.raises(ValueError, match="ended already"):
            await telnyx.end_transfer(caller)
    assert telnyx.sent == sent  # a transfer alone sends nothing, as before


async def test_an_answered_transfer_that_did_not_park_hangs_the_caller_up(telnyx):
    async with WebhookReceiver() as receiver:
        caller = await transfer(telnyx, f"{receiver.url}/hook")
        leg = telnyx.transfer_leg(caller)
        sent = await telnyx.end_transfer(caller)
    assert [(e.json()["data"]["payload"]["call_control_id"], e.event_type) for e in sent] == [
        (leg.call_control_id, "call.initiated"),
        (leg.call_control_id, "call.answered"),
        (leg.call_control_id, "call.hangup"),
        (caller, "call.hangup"),
    ]
    assert not telnyx.call(caller).alive


async def test_an_unanswered_transfer_that_did_not_park_leaves_the_caller(telnyx):
    async with WebhookReceiver() as receiver:
        caller = await transfer(telnyx, f"{receiver.url}/hook")
        await telnyx.end_transfer(caller, "no_answer")
    assert telnyx.call(caller).alive  # Telnyx: "the original call will remain active"


async def test_unknown_outcomes_and_calls_not_transferred_are_refused(telnyx):
    async with WebhookReceiver() as receiver:
        caller = await transfer(telnyx, f"{receiver.url}/hook")
        with pytest.raises(ValueError, match="not one of"):
            await telnyx.end_transfer(caller, "exploded")
    with pytest.raises(LookupError):
        telnyx.transfer_leg(telnyx.outgoing_call(CALLER, CALLEE).call_control_id)
    assert telnyx.sent == []


# --- end to end ----------------------------------------------------------------------------


async def answered_call(api: httpx.AsyncClient, telnyx: TelnyxDouble, instructions) -> tuple:
    response = await api.post(
        "/api/v1/calls", json={"to": CALLEE, "from": CALLER, "instructions": instructions}
    )
    assert response.status_code == 201, response.text
    call = response.json()
    control_id = call["provider_call_id"]
    assert (await telnyx.send_event(control_id, "call.initiated")).status == 200
    assert (await telnyx.send_event(control_id, "call.answered")).status == 200
    return call, control_id


async def detail_of(api: httpx.AsyncClient, call: dict) -> dict:
    return dict((await api.get(f"/api/v1/calls/{call['id']}")).json())


REPORTED = [{"kind": "dial", "number": AGENT, "report_outcome": True}]


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        ("answered", "completed"),
        ("busy", "busy"),
        ("no_answer", "no-answer"),
        ("failed", "failed"),
    ],
)
async def test_the_platform_hears_how_a_reported_dial_ended(api, telnyx, outcome, status):
    telnyx.transfer_outcomes[AGENT] = outcome
    call, control_id = await answered_call(api, telnyx, REPORTED)
    [transfer_command] = telnyx.commands(control_id, "transfer")
    assert transfer_command.body["park_after_unbridge"] == "self"
    sent = await telnyx.end_transfer(control_id)
    assert {event.status for event in sent} == {200}
    detail = await detail_of(api, call)
    dialed = [entry for entry in detail["timeline"] if entry["kind"] == "dialed"]
    assert [(entry["source"], entry["status"]) for entry in dialed] == [("provider", status)]
    assert detail["status"] == "in-progress"  # parked: the caller waits for the platform
    assert telnyx.call(control_id).alive
    # A call placed with instructions has no handler to answer the report: nothing is sent.
    assert [command.action for command in telnyx.commands(control_id)] == ["transfer"]


async def test_a_caller_who_hangs_up_while_it_rings_gets_no_report(api, telnyx):
    telnyx.transfer_outcomes[AGENT] = "canceled"
    call, control_id = await answered_call(api, telnyx, REPORTED)
    await telnyx.end_transfer(control_id)
    detail = await detail_of(api, call)
    assert detail["status"] == "completed"
    assert not [entry for entry in detail["timeline"] if entry["kind"] == "dialed"]


async def test_an_unreported_dial_still_continues_the_script(api, telnyx):
    telnyx.transfer_outcomes[AGENT] = "no_answer"
    script = [{"kind": "dial", "number": AGENT}, {"kind": "say", "text": "Nobody answered."}]
    call, control_id = await answered_call(api, telnyx, script)
    await telnyx.end_transfer(control_id)
    [speak] = telnyx.commands(control_id, "speak")
    assert speak.body["payload"] == "Nobody answered."
    detail = await detail_of(api, call)
    assert not [entry for entry in detail["timeline"] if entry["kind"] == "dialed"]
