"""Agent-assisted capture on the loopback carrier: an agent opens a session on an answered
call, asks the callee for each card field, and the carrier posts masked progress to the
``payment`` webhook (a partial report, then the field's final one) until the simulated
connector charges the test card in the callee's hand (``card`` step; default visa) or
refuses it; the callee's star and the agent's cancel end a session; requests are idempotent
and what makes no sense is refused. No report ever carries a card's digits."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any

import httpx
import pytest
from loopback_helpers import provider_for

from kernel import tenant_scope
from kernel.testing import serve_app, wait_until
from plugins.calls import (
    PERMISSIONS,
    Action,
    CallRef,
    CallStatus,
    CaptureField,
    ControlCall,
    Direction,
    Pause,
    PaymentCapture,
    PaymentProgress,
    PlaceCall,
    ProviderRefused,
    StartCapture,
    UpdateCapture,
    start_payment_capture,
    update_payment_capture,
)
from plugins.calls.testing import use_public_base_url
from plugins.loopback.carrier.script import Card, ScriptError, parse_caller_script, parse_script
from plugins.loopback.testing import call_log, live_call

CARD = CaptureField.CARD_NUMBER
EXPIRY = CaptureField.EXPIRATION_DATE
CVC = CaptureField.SECURITY_CODE
POSTAL = CaptureField.POSTAL_CODE
ALL = (CARD.value, EXPIRY.value, CVC.value, POSTAL.value)
ON_THE_LINE: list[Any] = ["answer", {"step": "wait", "seconds": 3000}, "hangup"]
CARD_NUMBERS = ("4242424242424242", "5555555555554444", "4000000000000002")


def place(script: list[Any]) -> PlaceCall:
    return PlaceCall(
        call_id=uuid.uuid4(),
        from_number="+15005550100",
        to_number="+15005550199",
        timeout_seconds=6000,
        options={"script": script},
    )


def ref(call_id: str | None) -> CallRef:
    return CallRef(
        id=uuid.uuid4(),
        provider_call_id=call_id,
        direction=Direction.OUTBOUND,
        status=CallStatus.IN_PROGRESS,
        from_number="+15005550100",
        to_number="+15005550199",
    )


def opening(call_id: str | None, key: str = "open-1", **fields: Any) -> StartCapture:
    return StartCapture(
        call=ref(call_id), idempotency_key=key, amount="25.00", currency="usd", **fields
    )


def asking(call_id: str, session: str, field: CaptureField, key: str | None = None):
    return UpdateCapture(
        call=ref(call_id),
        session_id=session,
        idempotency_key=key or uuid.uuid4().hex,
        capture=field,
    )


def ending(call_id: str, session: str, status: str, key: str | None = None) -> UpdateCapture:
    return UpdateCapture(
        call=ref(call_id),
        session_id=session,
        idempotency_key=key or uuid.uuid4().hex,
        status=status,  # type: ignore[arg-type]
    )


async def answered(carrier, receiver, script: list[Any] = ON_THE_LINE) -> str:
    """A call whose callee answered, on the line while the agent talks (a long pause)."""
    receiver.default = [Pause(seconds=3000)]
    placed = await carrier.place_call(place(script))
    call_id = placed.provider_call_id
    await wait_until(lambda: any(r.event.provider_call_id == call_id for r in receiver.of("voice")))
    return call_id


def progress(receiver, session: str) -> list[PaymentProgress]:
    """The session's ``payment`` webhooks as the provider parsed them, in order."""
    found = [r.event for r in receiver.of("payment")]
    return [p for p in found if isinstance(p, PaymentProgress) and p.session_id == session]


def finals(receiver, session: str) -> list[PaymentProgress]:
    return [p for p in progress(receiver, session) if not p.partial]


async def key(carrier, receiver, call_id: str, session: str, field: CaptureField) -> list:
    """Ask for ``field`` and wait for its two reports (partial, then final)."""
    before = len(progress(receiver, session))
    await carrier.update_capture(asking(call_id, session, field))
    await wait_until(lambda: len(progress(receiver, session)) >= before + 2)
    return progress(receiver, session)[before:]


async def outcome(receiver, session: str) -> PaymentProgress:
    await wait_until(lambda: any(p.capture is not None for p in progress(receiver, session)))
    [last] = [p for p in progress(receiver, session) if p.capture is not None]
    return last


def no_card_digits(receiver) -> None:
    """Nothing the carrier sent holds more of a card than its last four digits."""
    for received in receiver.received:
        raw = json.dumps(received.body)
        assert not any(number[:12] in raw or number[-12:] in raw for number in CARD_NUMBERS)
        if received.kind == "payment":
            assert re.fullmatch(r"x*[0-9]{0,4}", received.body["masked"] or "")


async def test_the_callee_keys_each_field_and_the_connector_charges(carrier, receiver, platform):
    call_id = await answered(carrier, receiver)
    session = await carrier.start_capture(opening(call_id))
    assert re.fullmatch(r"LC[0-9a-f]{32}", session)
    assert ("capture", "started") in call_log(platform, call_id)
    await asyncio.sleep(0.1)
    assert receiver.of("payment") == []  # nothing is asked of the callee yet

    partial, done = await key(carrier, receiver, call_id, session, CARD)
    assert partial == PaymentProgress(
        provider_call_id=call_id,
        session_id=session,
        field=CARD,
        partial=True,
        digits=8,
        masked="x" * 8,  # fewer than twelve digits: nothing shown
        card_type="visa",
        required=ALL,
        occurred_at=partial.occurred_at,
    )
    assert (done.partial, done.digits, done.masked, done.card_type) == (
        False,
        16,
        "xxxxxxxxxxxx4242",
        "visa",
    )
    assert done.required == ALL[1:]
    assert done.capture is None
    assert done.error is None

    expected = {
        EXPIRY: ("xxxx", ALL[2:]),
        CVC: ("xxx", ALL[3:]),
        POSTAL: ("xxxxx", ()),
    }
    for field, (masked, required) in expected.items():
        partial, done = await key(carrier, receiver, call_id, session, field)
        half = "x" * (len(masked) // 2)
        assert (partial.field, partial.partial, partial.masked) == (field, True, half)
        assert partial.required == (field.value, *required)
        assert (done.field, done.digits, done.masked, done.required) == (
            field,
            len(masked),
            masked,
            required,
        )
        assert done.card_type is None

    await carrier.update_capture(ending(call_id, session, "complete"))
    last = await outcome(receiver, session)
    assert last.capture is not None
    assert (last.capture.status, last.capture.result, last.capture.error) == (
        "succeeded",
        "success",
        None,
    )
    assert re.fullmatch(r"lbpay_[0-9a-f]{24}", last.capture.confirmation or "")
    assert (last.field, last.partial, last.digits, last.masked, last.required) == (
        None,
        False,
        0,
        None,
        (),
    )
    log = call_log(platform, call_id)
    assert [e for e in log if e[0] in ("asked", "keyed")] == [
        (step, field) for field in ALL for step in ("asked", "keyed")
    ]
    assert log[-2:] == [("capture", "complete"), ("capture", "success")]
    no_card_digits(receiver)
    # A new session may be opened once this one is over.
    assert await carrier.start_capture(opening(call_id, key="open-2")) != session


@pytest.mark.parametrize(
    ("card", "last_four", "card_type", "expected"),
    [
        ("mastercard", "4444", "mastercard", PaymentCapture("succeeded", "success")),
        (
            "declined",
            "0002",
            "visa",
            PaymentCapture("failed", "payment-connector-error", error="card_declined"),
        ),
    ],
)
async def test_the_card_in_the_callees_hand_decides(
    carrier, receiver, platform, card, last_four, card_type, expected
):
    script = ["answer", {"step": "card", "card": card}, {"step": "wait", "seconds": 3000}]
    call_id = await answered(carrier, receiver, script)
    session = await carrier.start_capture(opening(call_id, postal_code=False, security_code=False))
    _, number = await key(carrier, receiver, call_id, session, CARD)
    assert (number.masked, number.card_type) == ("x" * 12 + last_four, card_type)
    assert number.required == (EXPIRY.value,)  # the session needs no postal or security code
    _, expiry = await key(carrier, receiver, call_id, session, EXPIRY)
    assert expiry.required == ()
    with pytest.raises(ProviderRefused) as refused:
        await carrier.update_capture(asking(call_id, session, POSTAL))
    assert refused.value.code == "capture-field-unused"
    await carrier.update_capture(ending(call_id, session, "complete"))
    last = await outcome(receiver, session)
    assert last.capture is not None
    if expected.status == "succeeded":
        assert (last.capture.confirmation or "").startswith("lbpay_")
        expected = PaymentCapture("succeeded", "success", confirmation=last.capture.confirmation)
    assert last.capture == expected
    no_card_digits(receiver)


async def test_a_pay_step_puts_its_card_in_hand_too(carrier, receiver, platform):
    call_id = await answered(carrier, receiver, ["answer", {"step": "pay", "card": "mastercard"}])
    await wait_until(lambda: live_call(platform, call_id).card == "mastercard")
    session = await carrier.start_capture(opening(call_id))
    _, number = await key(carrier, receiver, call_id, session, CARD)
    assert number.masked == "xxxxxxxxxxxx4444"


async def test_a_callee_holding_cancel_presses_star(carrier, receiver, platform):
    script = ["answer", {"step": "card", "card": "cancel"}, {"step": "wait", "seconds": 3000}]
    call_id = await answered(carrier, receiver, script)
    session = await carrier.start_capture(opening(call_id))
    await carrier.update_capture(asking(call_id, session, CARD))
    last = await outcome(receiver, session)
    assert progress(receiver, session) == [last]  # no partial: nothing was keyed
    assert last.capture == PaymentCapture("cancelled", "caller-interrupted-with-star")
    assert (last.field, last.partial, last.digits, last.masked, last.required) == (
        CARD,
        False,
        0,
        None,
        ALL,
    )
    assert call_log(platform, call_id)[-2:] == [
        ("pressed", "*"),
        ("capture", "caller-interrupted-with-star"),
    ]
    with pytest.raises(ProviderRefused) as refused:
        await carrier.update_capture(asking(call_id, session, CARD))
    assert refused.value.code == "capture-ended"


async def test_the_agent_cancels_and_nothing_more_is_posted(carrier, receiver, platform):
    call_id = await answered(carrier, receiver)
    session = await carrier.start_capture(opening(call_id))
    await carrier.update_capture(asking(call_id, session, CARD))
    await carrier.update_capture(ending(call_id, session, "cancel"))  # while the callee keys
    assert call_log(platform, call_id)[-1] == ("capture", "cancelled")
    with pytest.raises(ProviderRefused) as refused:
        await carrier.update_capture(ending(call_id, session, "complete"))
    assert refused.value.code == "capture-ended"
    await carrier.control(
        ControlCall(call=ref(call_id), action=Action.HANGUP, command_id=uuid.uuid4().hex)
    )
    await wait_until(lambda: receiver.ended(call_id))
    assert receiver.of("payment") == []
    assert ("keyed", CARD.value) not in call_log(platform, call_id)


async def test_asking_again_forgets_what_was_keyed(carrier, receiver, platform):
    call_id = await answered(carrier, receiver)
    session = await carrier.start_capture(opening(call_id, postal_code=False, security_code=False))
    await key(carrier, receiver, call_id, session, CARD)
    await key(carrier, receiver, call_id, session, EXPIRY)
    await carrier.update_capture(asking(call_id, session, CARD))  # a retry
    with pytest.raises(ProviderRefused) as refused:
        await carrier.update_capture(ending(call_id, session, "complete"))
    assert refused.value.code == "capture-incomplete"
    assert CARD.value in refused.value.detail
    await wait_until(lambda: len(finals(receiver, session)) == 3)
    partial = progress(receiver, session)[-2]
    assert (partial.field, partial.partial, partial.required) == (CARD, True, (CARD.value,))
    assert finals(receiver, session)[-1].required == ()
    await carrier.update_capture(ending(call_id, session, "complete"))
    assert (await outcome(receiver, session)).capture.result == "success"  # type: ignore[union-attr]


async def test_a_repeated_key_applies_nothing_twice(carrier, receiver, platform):
    call_id = await answered(carrier, receiver)
    session = await carrier.start_capture(opening(call_id, key="open-1"))
    assert await carrier.start_capture(opening(call_id, key="open-1")) == session
    assert call_log(platform, call_id).count(("capture", "started")) == 1
    with pytest.raises(ProviderRefused) as refused:
        await carrier.start_capture(opening(call_id, key="open-2"))
    assert refused.value.code == "capture-in-progress"
    assert session in refused.value.detail

    ask = asking(call_id, session, CARD, key="ask-1")
    await carrier.update_capture(ask)
    await carrier.update_capture(ask)  # not a retry of the field: the same request again
    await wait_until(lambda: len(finals(receiver, session)) == 1)
    await carrier.update_capture(ask)  # after the field was keyed: still nothing
    await live_call(platform, call_id).outbox.drained()
    await asyncio.sleep(0.1)
    assert [p.partial for p in progress(receiver, session)] == [True, False]
    assert call_log(platform, call_id).count(("asked", CARD.value)) == 1

    for field in (EXPIRY, CVC, POSTAL):
        await key(carrier, receiver, call_id, session, field)
    complete = ending(call_id, session, "complete", key="complete-1")
    await carrier.update_capture(complete)
    await outcome(receiver, session)
    await carrier.update_capture(complete)  # the session is over, but this was done already
    await live_call(platform, call_id).outbox.drained()
    await asyncio.sleep(0.1)
    assert len([p for p in progress(receiver, session) if p.capture is not None]) == 1


async def test_refused_without_a_live_answered_call(carrier, receiver, platform, other_tenant):
    with pytest.raises(ProviderRefused) as refused:
        await carrier.start_capture(opening("LB" + "0" * 32))
    assert refused.value.code == "call-unknown"
    with pytest.raises(ProviderRefused) as refused:
        await carrier.start_capture(opening(None))
    assert refused.value.code == "call-unknown"

    ringing = await carrier.place_call(place([{"step": "ring", "seconds": 600}, "answer"]))
    await wait_until(lambda: "ringing" in receiver.statuses(ringing.provider_call_id))
    with pytest.raises(ProviderRefused) as refused:
        await carrier.start_capture(opening(ringing.provider_call_id))
    assert refused.value.code == "call-not-answered"
    await carrier.control(
        ControlCall(
            call=ref(ringing.provider_call_id), action=Action.HANGUP, command_id=uuid.uuid4().hex
        )
    )

    call_id = await answered(carrier, receiver)
    session = await carrier.start_capture(opening(call_id))
    with pytest.raises(ProviderRefused) as refused:  # another tenant's call does not exist
        await provider_for(platform, other_tenant).update_capture(asking(call_id, session, CARD))
    assert refused.value.code == "call-unknown"
    with pytest.raises(ProviderRefused) as refused:
        await carrier.update_capture(asking(call_id, "LC" + "0" * 32, CARD))
    assert refused.value.code == "capture-unknown"
    with pytest.raises(ProviderRefused) as refused:
        await carrier.update_capture(ending(call_id, session, "complete"))
    assert refused.value.code == "capture-incomplete"

    await carrier.control(
        ControlCall(call=ref(call_id), action=Action.HANGUP, command_id=uuid.uuid4().hex)
    )
    await wait_until(lambda: live_call(platform, call_id) is None)
    with pytest.raises(ProviderRefused) as refused:
        await carrier.update_capture(ending(call_id, session, "cancel"))
    assert refused.value.code == "call-ended"
    with pytest.raises(ProviderRefused) as refused:
        await carrier.start_capture(opening(call_id, key="open-2"))
    assert refused.value.code == "call-ended"


async def test_a_call_that_ends_takes_its_session_with_it(carrier, receiver, platform):
    call_id = await answered(carrier, receiver)
    session = await carrier.start_capture(opening(call_id))
    await carrier.update_capture(asking(call_id, session, CARD))
    await carrier.control(  # while the callee keys
        ControlCall(call=ref(call_id), action=Action.HANGUP, command_id=uuid.uuid4().hex)
    )
    await wait_until(lambda: receiver.ended(call_id))
    assert receiver.of("payment") == []
    assert ("keyed", CARD.value) not in call_log(platform, call_id)


async def test_through_the_platform(app, platform, tenant, kraliki_authenticate):
    """The calls plugin opens and drives the session on a call placed over the API; the
    carrier's signed ``payment`` webhooks land on the call's timeline as counts of digits."""
    kraliki_authenticate(app, *(p.key for p in PERMISSIONS), kind="user", tenant_id=tenant)
    script = ["answer", {"step": "card", "card": "mastercard"}, *ON_THE_LINE[1:]]
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as api:
        use_public_base_url(platform, url)
        body = {
            "to": "+14155550123",
            "from": "+14155550100",
            "instructions": [{"kind": "pause", "seconds": 3000}],
            "options": {"script": script},
        }
        created = await api.post("/api/v1/calls", json=body)
        assert created.status_code == 201, created.text
        call_id = uuid.UUID(created.json()["id"])

        async def timeline() -> list[dict[str, Any]]:
            found = await api.get(f"/api/v1/calls/{call_id}")
            assert found.status_code == 200, found.text
            return list(found.json()["timeline"])

        async def reported(**detail: Any) -> bool:
            return any(
                e["kind"] == "payment-progress" and detail.items() <= e["detail"].items()
                for e in await timeline()
            )

        async def until(check: Any) -> None:
            async with asyncio.timeout(30):
                while not await check():  # noqa: ASYNC110 (polling the API: nothing signals)
                    await asyncio.sleep(0.02)

        async def in_progress() -> bool:
            return any(e["status"] == "in-progress" for e in await timeline())

        await until(in_progress)
        with tenant_scope(tenant):
            async with platform.database.session() as session:
                session_id = await start_payment_capture(
                    platform,
                    session,
                    call_id,
                    idempotency_key="capture-0",
                    amount="25.00",
                    currency="usd",
                )
                assert session_id.startswith("LC")
                for step, field in enumerate(CaptureField, start=1):
                    await update_payment_capture(
                        platform,
                        session,
                        call_id,
                        session_id=session_id,
                        idempotency_key=f"capture-{step}",
                        capture=field,
                    )
                    await until(lambda f=field: reported(field=f.value, digits=len(_keys(f))))
                await update_payment_capture(
                    platform,
                    session,
                    call_id,
                    session_id=session_id,
                    idempotency_key="capture-5",
                    status="complete",
                )
        await until(lambda: reported(result="success"))
        entries = await timeline()
        assert not any(number[:12] in json.dumps(entries) for number in CARD_NUMBERS)
        steps = [e["detail"].get("step") for e in entries if e["kind"] == "payment-capture"]
        assert steps == ["started", *ALL, "complete"]


def _keys(field: CaptureField) -> str:
    return {CARD: "5555555555554444", EXPIRY: "1230", CVC: "123", POSTAL: "94107"}[field]


def test_the_card_step():
    script = parse_script(["answer", {"step": "card", "card": "declined"}, "card", "hangup"])
    assert script.after[:2] == [Card(card="declined"), Card()]
    assert parse_caller_script([{"step": "card", "card": "cancel"}]).after == [Card(card="cancel")]
    with pytest.raises(ScriptError, match=r"step 2\.card: Input should be"):
        parse_script(["answer", {"step": "card", "card": "amex"}])
    with pytest.raises(ScriptError, match=r"step 1 \(card\): before the callee answers"):
        parse_script(["card", "answer"])
