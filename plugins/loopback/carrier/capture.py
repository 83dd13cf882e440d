"""Agent-assisted card capture on a running loopback call.

An agent opens a session on an answered call (:func:`start`: nothing is asked yet), asks the
callee for one card field at a time (:func:`update` with ``capture``; again to retry, which
forgets what was keyed), then completes it (the simulated connector charges the card) or
cancels it. The callee keys the test card in its hand (``CarrierCall.card``: ``visa`` unless
a ``card`` or ``pay`` step of its script named another, as of when it is asked): after
:data:`ASK_SECONDS` it starts keying, one digit each :data:`DIGIT_SECONDS`, and the carrier
posts a ``payment`` webhook when half the digits are in (``partial``) and one when the field
is done. A callee holding ``cancel`` presses star instead: the session ends
``caller-interrupted-with-star``. On ``complete`` the connector answers after
:data:`CONNECTOR_SECONDS` with the session's outcome. An agent's ``cancel`` ends the session
at once and posts nothing.

The test cards' digits stay here: webhooks carry a count of digits and a mask (a card
number's last four at most), the call's log names fields, never digits. Requests are
idempotent on their key; what makes no sense is refused (:class:`ProviderRefused`)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from plugins.calls import (
    CallStatus,
    CaptureField,
    ProviderRefused,
    StartCapture,
    UpdateCapture,
)
from plugins.loopback.carrier.clock import Timeline
from plugins.loopback.payloads import PaymentBody, PaymentResult, mask

if TYPE_CHECKING:
    from plugins.loopback.carrier.call import CarrierCall

ASK_SECONDS = 2.0
"""From the agent's request to the callee's first digit (it hears what to key)."""
DIGIT_SECONDS = 0.5
"""How long the callee takes per digit."""
CONNECTOR_SECONDS = 2.0
"""How long the simulated connector takes to charge the card or refuse it."""

FIELDS = tuple(CaptureField)
"""In the order a session requires them: card number, expiry, security code, postal code."""
_EXPIRY, _CODE, _POSTAL = "1230", "123", "94107"
CARDS: dict[str, dict[CaptureField, str]] = {
    "visa": dict(zip(FIELDS, ("4242424242424242", _EXPIRY, _CODE, _POSTAL), strict=True)),
    "mastercard": dict(zip(FIELDS, ("5555555555554444", _EXPIRY, _CODE, _POSTAL), strict=True)),
    "declined": dict(zip(FIELDS, ("4000000000000002", _EXPIRY, _CODE, _POSTAL), strict=True)),
}
"""What the callee keys for each test card it may hold (``cancel`` keys nothing: star)."""
CARD_TYPES: dict[str, Literal["visa", "mastercard"]] = {
    "visa": "visa",
    "mastercard": "mastercard",
    "declined": "visa",
}
CHARGES: dict[str, tuple[PaymentResult, str | None]] = {
    "visa": ("success", None),
    "mastercard": ("success", None),
    "declined": ("payment-connector-error", "card_declined"),
}
"""The simulated connector's answer to the card whose number was keyed."""

SessionStatus = Literal["open", "completing", "succeeded", "failed", "cancelled"]


@dataclass
class Session:
    id: str
    request: StartCapture
    status: SessionStatus = "open"
    keyed: dict[CaptureField, str] = field(default_factory=dict)
    """The test card keyed into each field that is done."""
    applied: set[str] = field(default_factory=set)
    """Idempotency keys of the updates done (a repeated one is ignored)."""
    keying: asyncio.Task[None] | None = None
    """The callee keying the field asked for last."""

    @property
    def needed(self) -> tuple[CaptureField, ...]:
        skipped = set()
        if not self.request.security_code:
            skipped.add(CaptureField.SECURITY_CODE)
        if not self.request.postal_code:
            skipped.add(CaptureField.POSTAL_CODE)
        return tuple(f for f in FIELDS if f not in skipped)

    @property
    def required(self) -> tuple[CaptureField, ...]:
        """The fields still to key, in order."""
        return tuple(f for f in self.needed if f not in self.keyed)

    def stop_keying(self) -> None:
        if self.keying is not None:
            self.keying.cancel()
            self.keying = None


@dataclass
class Captures:
    """A call's capture sessions."""

    sessions: dict[str, Session] = field(default_factory=dict)
    opened: dict[str, str] = field(default_factory=dict)
    """The session each start's idempotency key opened."""

    def open_one(self) -> Session | None:
        return next((s for s in self.sessions.values() if s.status in ("open", "completing")), None)


def start(call: CarrierCall, request: StartCapture) -> str:
    """Open a session on the answered ``call`` and return its id (the same for a repeated
    key). Refused on a call not answered, or with a session open already."""
    captures = call.captures
    known = captures.opened.get(request.idempotency_key)
    if known is not None:
        return known
    _answered(call)
    already = captures.open_one()
    if already is not None:
        raise ProviderRefused(
            f"loopback call {call.provider_call_id} has an open capture session "
            f"{already.id}: complete or cancel it first",
            code="capture-in-progress",
        )
    session = Session(id=f"LC{uuid.uuid4().hex}", request=request)
    captures.sessions[session.id] = session
    captures.opened[request.idempotency_key] = session.id
    call.log.append(("capture", "started"))
    return session.id


def update(call: CarrierCall, request: UpdateCapture) -> None:
    """Ask the callee for a field of the open session, or complete or cancel it; a repeated
    key does nothing."""
    session = call.captures.sessions.get(request.session_id)
    if session is None:
        raise ProviderRefused(
            f"loopback call {call.provider_call_id} has no capture session {request.session_id!r}",
            code="capture-unknown",
        )
    if request.idempotency_key in session.applied:
        return
    _answered(call)
    if session.status != "open":
        raise ProviderRefused(
            f"capture session {session.id} is {session.status}: start a new one",
            code="capture-ended",
        )
    if (request.capture is None) == (request.status is None):
        raise ProviderRefused(
            "an update asks for one field (capture) or ends the session (status)",
            code="invalid-capture-update",
        )
    if request.capture is not None:
        _ask(call, session, request.capture)
    elif request.status == "complete":
        _complete(call, session)
    else:
        session.stop_keying()
        session.status = "cancelled"
        call.log.append(("capture", "cancelled"))
    session.applied.add(request.idempotency_key)


def _answered(call: CarrierCall) -> None:
    if call.ended:
        raise ProviderRefused(f"loopback call {call.provider_call_id} has ended", code="call-ended")
    if call.status != CallStatus.IN_PROGRESS:
        raise ProviderRefused(
            f"loopback call {call.provider_call_id} is not answered: cannot take a payment",
            code="call-not-answered",
        )


def _ask(call: CarrierCall, session: Session, asked: CaptureField) -> None:
    if asked not in session.needed:
        raise ProviderRefused(
            f"capture session {session.id} does not take the {asked.value} (the session was "
            "opened without it)",
            code="capture-field-unused",
        )
    session.stop_keying()  # a field being keyed is dropped: the callee keys this one now
    session.keyed.pop(asked, None)  # asked again: what was keyed is forgotten
    call.log.append(("asked", asked.value))
    session.keying = call.spawn(_key(call, session, asked, call.card), fresh=True)


async def _key(call: CarrierCall, session: Session, asked: CaptureField, card: str) -> None:
    """The callee keys ``asked`` from ``card`` (or presses star), reporting as it goes."""
    callee = Timeline(call.clock, call.clock.now())
    await callee.sleep(ASK_SECONDS)
    if card not in CARDS:  # cancel: star
        call.log.append(("pressed", "*"))
        _end(call, session, "cancelled", "caller-interrupted-with-star", asked=asked)
        return
    digits = CARDS[card][asked]
    card_type = CARD_TYPES[card] if asked is CaptureField.CARD_NUMBER else None
    half = max(len(digits) // 2, 1)
    await callee.sleep(half * DIGIT_SECONDS)
    _report(call, session, asked, digits[:half], card_type, partial=True)
    await callee.sleep((len(digits) - half) * DIGIT_SECONDS)
    session.keyed[asked] = card
    session.keying = None
    call.log.append(("keyed", asked.value))
    _report(call, session, asked, digits, card_type, partial=False)


def _report(
    call: CarrierCall,
    session: Session,
    asked: CaptureField,
    keyed: str,
    card_type: Literal["visa", "mastercard"] | None,
    *,
    partial: bool,
) -> None:
    call.outbox.send(
        PaymentBody(
            **call.header(),
            session_id=session.id,
            field=asked,
            partial=partial,
            digits=len(keyed),
            masked=mask(asked, keyed),
            card_type=card_type,
            required=session.required,
        )
    )


def _complete(call: CarrierCall, session: Session) -> None:
    missing = session.required
    if missing:
        raise ProviderRefused(
            f"capture session {session.id} still needs {', '.join(f.value for f in missing)}",
            code="capture-incomplete",
        )
    session.stop_keying()
    session.status = "completing"
    call.log.append(("capture", "complete"))
    call.spawn(_charge(call, session), fresh=True)


async def _charge(call: CarrierCall, session: Session) -> None:
    """The simulated connector charges the card whose number was keyed, or refuses it."""
    connector = Timeline(call.clock, call.clock.now())
    await connector.sleep(CONNECTOR_SECONDS)
    result, error = CHARGES[session.keyed[CaptureField.CARD_NUMBER]]
    status: SessionStatus = "succeeded" if result == "success" else "failed"
    _end(call, session, status, result, error=error)


def _end(
    call: CarrierCall,
    session: Session,
    status: SessionStatus,
    result: PaymentResult,
    *,
    asked: CaptureField | None = None,
    error: str | None = None,
) -> None:
    """The session ended with ``result``: the last report, with the outcome (``asked``: the
    field the callee was asked for when it pressed star)."""
    session.status = status
    session.keying = None
    call.log.append(("capture", result))
    confirmation = f"lbpay_{uuid.uuid4().hex[:24]}" if result == "success" else None
    call.outbox.send(
        PaymentBody(
            **call.header(),
            session_id=session.id,
            field=asked,
            required=session.required,
            payment_result=result,
            payment_confirmation=confirmation,
            payment_error=error,
        )
    )
