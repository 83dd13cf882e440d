"""A ``Dial`` that reports its outcome: rendered with an ``action`` to the ``gather`` webhook,
Twilio's action request (``DialCallStatus``) parsed as ``InstructionsNeeded("dialed")``, and
the double playing the dialled party and posting that request, signed."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET

import pytest
from twilio_helpers import (
    ACME_NUMBER,
    CALLEE,
    call_ref,
    offline_provider,
    offline_url,
    provider_for,
)

from kernel import Platform, tenant_scope
from plugins.calls import (
    CallStatus,
    Dial,
    Gather,
    Hangup,
    InstructionsNeeded,
    ParsedWebhook,
    PlaceCall,
    Say,
    WebhookMalformed,
    WebhookRequest,
)
from plugins.twilio.testing import MAX_DIALS, TwilioDouble

SID = "CA" + "a" * 32
DIALED = "CA" + "d" * 32
ACCOUNT = "AC" + "b" * 32
TARGET = "+420777000111"


# --- TwiML ---------------------------------------------------------------------------------


async def render(*instructions: object) -> list[ET.Element]:
    answer = await offline_provider().execute(call_ref(), list(instructions))
    return list(ET.fromstring(answer.body))


async def test_a_dial_that_reports_its_outcome_posts_to_the_gather_webhook():
    [dial] = await render(
        Dial(number=TARGET, caller_id=ACME_NUMBER, timeout_seconds=20, report_outcome=True)
    )
    assert (dial.tag, dial.text) == ("Dial", TARGET)
    assert dial.attrib == {
        "action": offline_url("gather"),
        "method": "POST",
        "timeout": "20",
        "callerId": ACME_NUMBER,
    }


async def test_steps_after_a_dial_that_reports_its_outcome_are_not_rendered():
    say, dial = await render(
        Say(text="Connecting"), Dial(number=TARGET, report_outcome=True), Say(text="Bye")
    )
    assert (say.text, dial.tag, dial.attrib["action"]) == (
        "Connecting",
        "Dial",
        offline_url("gather"),
    )


async def test_a_dial_without_report_outcome_is_unchanged():
    dial, bye = await render(Dial(number=TARGET), Say(text="Bye"))
    assert dial.attrib == {"timeout": "30"}  # no action: Twilio goes on to the next verb
    assert (bye.tag, bye.text) == ("Say", "Bye")


# --- parsing -------------------------------------------------------------------------------


def dial_form(**fields: str) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT,
        "ApiVersion": "2010-04-01",
        "CallSid": SID,
        "CallStatus": "in-progress",
        "Direction": "inbound",
        "From": CALLEE,
        "To": ACME_NUMBER,
        "DialCallStatus": "completed",
        "DialCallSid": DIALED,
        "DialCallDuration": "42",
    } | fields


def parse(form: dict[str, str], token: str | None = "tok-1") -> ParsedWebhook:
    headers = {"x-twilio-signature": "checked-elsewhere"}
    if token:
        headers["i-twilio-idempotency-token"] = token
    webhook = WebhookRequest(
        kind="gather",
        method="POST",
        url=offline_url("gather"),
        headers=headers,
        body=b"",
        form=form,
        query={},
    )
    return offline_provider().parse_webhook(webhook)


@pytest.mark.parametrize(
    ("twilio", "status"),
    [
        ("completed", CallStatus.COMPLETED),
        ("answered", CallStatus.COMPLETED),
        ("busy", CallStatus.BUSY),
        ("no-answer", CallStatus.NO_ANSWER),
        ("failed", CallStatus.FAILED),
        ("canceled", CallStatus.CANCELED),
    ],
)
def test_every_dial_call_status(twilio, status):
    parsed = parse(dial_form(DialCallStatus=twilio))
    assert parsed.events == (
        InstructionsNeeded(provider_call_id=SID, reason="dialed", dial_status=status),
    )
    assert parsed.payload["DialCallDuration"] == "42"


@pytest.mark.parametrize("value", ["ringing", "in-progress", "", "COMPLETED"])
def test_an_unknown_dial_call_status_is_malformed(value):
    with pytest.raises(WebhookMalformed, match="DialCallStatus"):
        parse(dial_form(DialCallStatus=value))


def test_a_gather_without_dial_call_status_is_still_a_gather():
    form = dial_form(Digits="1")
    del form["DialCallStatus"]
    [needed] = parse(form).events
    assert (needed.reason, needed.digits, needed.dial_status) == ("gathered", "1", None)


def test_a_redelivered_dial_report_is_a_duplicate():
    first = parse(dial_form(), token="tok-1").dedupe_key
    assert parse(dial_form(), token="tok-2").dedupe_key == first  # signed fields name it
    assert first == f"twilio:gather:{SID}:dial:{DIALED}:completed"
    assert parse(dial_form(DialCallStatus="busy")).dedupe_key != first
    assert parse(dial_form(DialCallSid="CA" + "e" * 32)).dedupe_key != first


def test_a_dial_report_without_a_dialled_leg_is_named_by_twilios_token():
    form = dial_form(DialCallStatus="failed")
    del form["DialCallSid"]
    assert parse(form, token="tok-1").dedupe_key == parse(form, token="tok-1").dedupe_key
    # Two dials of one call that both fail before a leg exists are two reports.
    assert parse(form, token="tok-1").dedupe_key != parse(form, token="tok-2").dedupe_key


# --- the double ----------------------------------------------------------------------------


@pytest.fixture
async def sid(platform: Platform, tenant: uuid.UUID) -> str:
    with tenant_scope(tenant):
        request = PlaceCall(call_id=uuid.uuid4(), from_number=ACME_NUMBER, to_number=CALLEE)
        return (await provider_for(platform, tenant).place_call(request)).provider_call_id


@pytest.mark.parametrize(
    ("outcome", "status", "seconds"),
    [
        ("completed", CallStatus.COMPLETED, "27"),
        ("busy", CallStatus.BUSY, "0"),
        ("no-answer", CallStatus.NO_ANSWER, "0"),
        ("failed", CallStatus.FAILED, "0"),
    ],
)
async def test_the_double_plays_the_dialled_party_and_posts_the_action(
    double: TwilioDouble, receiver, sid, outcome, status, seconds
):
    receiver.instructions = [Say(text="Connecting"), Dial(number=TARGET, report_outcome=True)]
    receiver.gather_answers = [[Say(text="Nobody is free"), Hangup()]]
    if outcome != "completed":  # completed is the default
        double.dial_outcomes[TARGET] = outcome

    answered = await double.answer(sid)

    assert [e.tag for e in ET.fromstring(answered.content)] == ["Say", "Dial"]
    assert [kind for kind, _ in receiver.parsed] == ["voice", "gather"]  # the signature held
    [needed] = receiver.parsed[1][1].events
    assert needed == InstructionsNeeded(provider_call_id=sid, reason="dialed", dial_status=status)
    assert double.calls[sid].dialled == [(TARGET, outcome)]
    sent = double.last_dial_callback(sid)
    assert sent.url == ET.fromstring(answered.content)[1].attrib["action"]
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "X-Twilio-Signature" in sent.headers
    assert (sent.form["CallSid"], sent.form["AccountSid"]) == (sid, double.account_sid)
    assert sent.form["DialCallStatus"] == outcome
    assert sent.form["DialCallSid"].startswith("CA")
    assert sent.form["DialCallDuration"] == seconds
    assert [e.tag for e in double.last_twiml(sid)] == ["Say", "Hangup"]  # what runs next


async def test_a_dial_without_an_action_is_not_played(double: TwilioDouble, receiver, sid):
    receiver.instructions = [Dial(number=TARGET), Say(text="Bye")]
    await double.answer(sid)
    assert [kind for kind, _ in receiver.parsed] == ["voice"]
    assert double.calls[sid].dialled == []


async def test_a_dial_after_a_gather_waits_for_the_gather(double: TwilioDouble, receiver, sid):
    receiver.instructions = [Gather(prompt=[Say(text="Press 1")]), Dial(number=TARGET)]
    receiver.gather_answers = [[Dial(number=TARGET, report_outcome=True)], [Hangup()]]
    await double.answer(sid)
    assert double.calls[sid].dialled == []  # Twilio waits for the keys first

    await double.press(sid, "1")

    assert [kind for kind, _ in receiver.parsed] == ["voice", "gather", "gather"]
    assert double.calls[sid].dialled == [(TARGET, "completed")]
    assert [e.tag for e in double.last_twiml(sid)] == ["Hangup"]


async def test_a_dial_loop_is_stopped(double: TwilioDouble, receiver, sid):
    receiver.instructions = [Dial(number=TARGET, report_outcome=True)]  # for every answer
    double.dial_outcomes[TARGET] = "busy"
    with pytest.raises(AssertionError, match="a loop"):
        await double.answer(sid)
    assert len(double.calls[sid].dialled) == MAX_DIALS


async def test_an_unknown_dial_call_status_is_a_400(double: TwilioDouble, receiver, tenant, sid):
    form = double.calls[sid].base_form() | {"CallStatus": "in-progress", "DialCallStatus": "x"}
    response = await double.send_raw(f"{receiver.url}/webhooks/twilio/{tenant}/gather", form)
    assert response.status_code == 400
    assert receiver.parsed == []
