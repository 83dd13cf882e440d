"""A ``dial`` that reports its outcome: the number's party rings, answers or not on the
platform's timeline, the ``dial`` webhook says how (signed, parsed into ``dialed``), and its
answer is what the caller hears next. A dial that does not report still ends as
``transferred``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from loopback_helpers import call, final, place
from pydantic import ValidationError

from plugins.calls import (
    CallStatus,
    Dial,
    Hangup,
    InstructionsNeeded,
    Say,
    WebhookMalformed,
    WebhookRequest,
)
from plugins.loopback import signature as signing
from plugins.loopback.carrier.clock import Clock, Timeline
from plugins.loopback.carrier.program import dialled_leg
from plugins.loopback.carrier.script import parse_script, script_for_number
from plugins.loopback.config import LoopbackSettings
from plugins.loopback.payloads import KINDS, DialBody, body_bytes, parse_body
from plugins.loopback.testing import call_log, tenant_secret

CALL = "LB" + "c" * 32
AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ON_THE_LINE = {"script": ["answer", {"step": "wait", "seconds": 3000}, "hangup"]}
"""A callee that answers at once and stays: only the platform's side ends the call."""
SORRY = [Say(text="Sorry, nobody answered"), Hangup()]
"""The answer to the dial webhook: 1.2 s of speech, then the platform hangs up."""


def signed(secret: str, kind: str, raw: bytes) -> WebhookRequest:
    headers = signing.sign(secret, raw, event_id=signing.new_event_id())
    return WebhookRequest(
        kind=kind,
        method="POST",
        url=f"http://platform.test/webhooks/loopback/t/{kind}",
        headers={k.lower(): v for k, v in headers.items()},
        body=raw,
    )


# -- the webhook -------------------------------------------------------------------------


async def test_a_dial_body_round_trips_signed(provider, platform, tenant):
    secret = await tenant_secret(platform, tenant)
    body = DialBody(
        call_id=CALL, sequence=5, occurred_at=AT, status=CallStatus.COMPLETED, duration_seconds=12
    )
    webhook = signed(secret, "dial", body_bytes(body))
    await provider.verify_webhook(webhook)
    parsed = provider.parse_webhook(webhook)
    assert parsed.dedupe_key == webhook.headers["loopback-event-id"]
    assert parsed.events == [InstructionsNeeded(CALL, "dialed", dial_status=CallStatus.COMPLETED)]
    assert parsed.payload["kind"] == "dial"
    assert parsed.payload["status"] == "completed"
    assert parsed.payload["duration_seconds"] == 12
    assert "dial" in KINDS


@pytest.mark.parametrize(
    "status",
    [CallStatus.BUSY, CallStatus.NO_ANSWER, CallStatus.FAILED, CallStatus.CANCELED],
    ids=lambda s: s.value,
)
def test_every_way_a_dialled_leg_ends_is_a_dialed_event(status):
    raw = body_bytes(DialBody(call_id=CALL, sequence=1, occurred_at=AT, status=status))
    body, payload = parse_body("dial", raw)
    event = body.event()
    assert isinstance(event, InstructionsNeeded)
    assert (event.reason, event.dial_status) == ("dialed", status)
    assert payload["duration_seconds"] == 0  # it never answered


@pytest.mark.parametrize("status", ["ringing", "in-progress", "queued", "initiated"])
def test_a_dial_cannot_end_as_a_live_status(status):
    with pytest.raises(ValidationError, match="cannot end as"):
        DialBody(call_id=CALL, sequence=1, occurred_at=AT, status=status)


def test_a_dial_body_sent_to_another_webhook_is_malformed(provider):
    raw = body_bytes(
        DialBody(call_id=CALL, sequence=1, occurred_at=AT, status=CallStatus.NO_ANSWER)
    )
    request = WebhookRequest(
        kind="gather",
        method="POST",
        url="http://platform.test/webhooks/loopback/t/gather",
        headers={"loopback-event-id": "EV1"},
        body=raw,
    )
    with pytest.raises(WebhookMalformed, match="a dial body sent to the gather webhook"):
        provider.parse_webhook(request)


# -- the dialled party ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "status", "talked", "took"),
    [
        ("+15005550001", CallStatus.BUSY, 0, 0),
        ("+15005550002", CallStatus.NO_ANSWER, 0, 7),
        ("+15005550003", CallStatus.FAILED, 0, 0),
        ("+15005550004", CallStatus.COMPLETED, 15, 17),  # greeting (5.2 s) and talk
        ("+15005550006", CallStatus.COMPLETED, 14, 16),  # a sentence (4.4 s) and talk
        ("+15005550123", CallStatus.COMPLETED, 10, 12),  # ring 2 s, talk 10 s
    ],
)
async def test_the_dialled_party_is_the_numbers(number, status, talked, took):
    settings = LoopbackSettings()
    side = Timeline(Clock(0.0001), 100.0)
    outcome, seconds = await dialled_leg(side, script_for_number(number, settings), 7.0)
    assert (outcome, round(seconds)) == (status, talked)
    assert round(side.t - 100.0) == took


async def test_a_party_that_rings_past_the_dial_timeout_does_not_answer():
    party = parse_script([{"step": "ring", "seconds": 60}, "answer"])
    side = Timeline(Clock(0.0001), 0.0)
    assert await dialled_leg(side, party, 5.0) == (CallStatus.NO_ANSWER, 0.0)
    assert side.t == 5.0


# -- on a call -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "status", "talked", "duration"),
    [
        # "Transferring you" (1 s), the dialled leg, then 1.2 s of "sorry"
        ("+15005550001", "busy", 0, 2),  # at once
        ("+15005550002", "no-answer", 0, 7),  # the dial's 5 s
        ("+15005550003", "failed", 0, 2),
        ("+15005550123", "completed", 10, 14),  # ring 2 s, talk 10 s
    ],
    ids=["busy", "no-answer", "failed", "answered"],
)
async def test_a_reported_dial_asks_the_platform_what_comes_next(
    carrier, receiver, platform, number, status, talked, duration
):
    dial = Dial(number=number, timeout_seconds=5, report_outcome=True)
    receiver.answer([Say(text="Transferring you"), dial, Say(text="never reached")], SORRY)
    call_id = await call(carrier, receiver, place(options=ON_THE_LINE))
    assert receiver.kinds()[-2:] == ["dial", "status"]
    [reported] = receiver.of("dial")
    assert reported.event == InstructionsNeeded(call_id, "dialed", dial_status=CallStatus(status))
    assert reported.body["status"] == status
    assert reported.body["duration_seconds"] == talked
    end = final(receiver, call_id)
    assert end["status"] == "completed"
    # The answer ran ("sorry", hang up), not what followed the dial.
    assert end["hangup_cause"] == "caller_hangup"
    assert end["duration_seconds"] == duration
    lines = call_log(platform, call_id)
    assert lines[-3:-1] == [("dial", number), ("dialed", status)]
    assert lines[-1] == ("heard", "Sorry, nobody answered")  # the answer, said to the caller


async def test_the_answer_to_a_dial_can_dial_again(carrier, receiver, platform):
    first = Dial(number="+15005550001", report_outcome=True)
    second = Dial(number="+15005550123", report_outcome=True)
    receiver.answer([first], [second], SORRY)
    call_id = await call(carrier, receiver, place(options=ON_THE_LINE))
    assert [r.event.dial_status for r in receiver.of("dial")] == [
        CallStatus.BUSY,
        CallStatus.COMPLETED,
    ]
    assert final(receiver, call_id)["duration_seconds"] == 13
    sequences = [r.body["sequence"] for r in receiver.received]
    assert sequences == sorted(sequences)


async def test_the_callee_hanging_up_during_the_dial_ends_the_call(carrier, receiver):
    receiver.answer([Dial(number="+15005550123", report_outcome=True), *SORRY])
    script = {"script": ["answer", {"step": "wait", "seconds": 5}, "hangup"]}
    call_id = await call(carrier, receiver, place(options=script))
    end = final(receiver, call_id)
    assert (end["hangup_cause"], end["duration_seconds"]) == ("callee_hangup", 5)
    assert receiver.of("dial") == []  # the dialled conversation was still going


async def test_a_dial_webhook_that_keeps_failing_ends_the_call(carrier, receiver, caplog):
    receiver.refuse["dial"] = 500
    receiver.answer([Dial(number="+15005550002", timeout_seconds=5, report_outcome=True)])
    call_id = await call(carrier, receiver, place(options=ON_THE_LINE))
    assert sum(1 for kind, _ in receiver.attempts if kind == "dial") == 4
    end = final(receiver, call_id)
    assert (end["hangup_cause"], end["duration_seconds"]) == ("application_error", 5)
    assert "gave up on the dial webhook" in caplog.text


async def test_an_unreported_dial_still_ends_the_leg_as_transferred(carrier, receiver, platform):
    receiver.answer([Dial(number="+15005550002"), Say(text="never reached")])
    call_id = await call(carrier, receiver, place(options=ON_THE_LINE))
    end = final(receiver, call_id)
    assert (end["hangup_cause"], end["duration_seconds"]) == ("transferred", 0)
    assert receiver.of("dial") == []
    assert call_log(platform, call_id) == [("dial", "+15005550002")]  # nothing rang it
