"""Agent-assisted capture: during a live call the agent opens a capture, asks the caller for
each card field (again, to retry one), then completes it (the provider's connector charges
the card at the organization's processor) or cancels it. The platform and the agent see only
progress: which field, how many digits, a mask; the ledger has the payment from the start
(``pending`` while capturing, ``processing`` once completed, then the connector's outcome).

The provider is asked through the calls plugin (``start_payment_capture``,
``update_payment_capture``), each request with its own idempotency key derived from the
capture; its progress arrives through ``kraliki_call_payment_progress``."""

from __future__ import annotations

import uuid
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, Principal, ProblemError
from plugins.calls import (
    Call,
    CaptureField,
    PaymentProgress,
    start_payment_capture,
    update_payment_capture,
)
from plugins.payments import events, ledger
from plugins.payments import settings as payment_settings
from plugins.payments.currencies import major, minor_digits, normalize
from plugins.payments.models import (
    AgentCapture,
    AgentCaptureStatus,
    CapturePath,
    Payment,
    PaymentStatus,
)
from plugins.payments.permissions import PAYMENTS_ALL
from plugins.payments.problems import (
    CAPTURE_IN_PROGRESS,
    CAPTURE_INCOMPLETE,
    CAPTURE_NOT_FOUND,
    CAPTURE_NOT_OPEN,
    CURRENCY_INVALID,
)
from plugins.payments.service import user_id_of

ENDED = {
    "succeeded": (AgentCaptureStatus.SUCCEEDED, PaymentStatus.SUCCEEDED),
    "failed": (AgentCaptureStatus.FAILED, PaymentStatus.FAILED),
    "cancelled": (AgentCaptureStatus.CANCELLED, PaymentStatus.CANCELLED),
}


def _key(capture_id: uuid.UUID, step: int) -> str:
    return f"kraliki-capture-{capture_id}-{step}"


async def start(
    platform: Platform,
    session: AsyncSession,
    *,
    principal: Principal,
    call_id: uuid.UUID,
    amount: int,
    currency: str | None,
    description: str,
    contact_id: uuid.UUID | None,
    postal_code: bool,
    security_code: bool,
) -> tuple[AgentCapture, Payment]:
    """Open a capture session on the call, then record the payment (``pending``) and the
    capture: a call the provider cannot take a payment on leaves no ledger row."""
    chosen = await payment_settings.current(session)
    code = normalize(currency or chosen.default_currency)
    if code is None or minor_digits(code) > 2:
        raise ProblemError(CURRENCY_INVALID, f"{currency!r} is not a currency the capture takes")
    open_one = await session.scalar(
        select(AgentCapture).where(
            AgentCapture.call_id == call_id,
            AgentCapture.status.in_([s.value for s in AgentCaptureStatus if s.open]),
        )
    )
    if open_one is not None:
        raise ProblemError(
            CAPTURE_IN_PROGRESS, "the call has an open capture", capture_id=str(open_one.id)
        )
    capture_id = uuid.uuid4()
    actor = principal.label or principal.subject
    session_id = await start_payment_capture(
        platform,
        session,
        call_id,
        idempotency_key=_key(capture_id, 0),
        amount=major(amount, code),
        currency=code,
        description=description or None,
        postal_code=postal_code,
        security_code=security_code,
        actor=actor,
    )
    call = await _call(session, call_id)
    payment = Payment(
        amount=amount,
        currency=code,
        status=PaymentStatus.PENDING.value,
        refunded_amount=0,
        reserved_amount=0,
        processor=chosen.processor or "connector",
        call_id=call_id,
        contact_id=contact_id,
        agent_id=user_id_of(principal),
        capture_path=CapturePath.AGENT.value,
        description=description,
        payment_metadata={"capture_id": str(capture_id)},
        created_by=actor,
    )
    session.add(payment)
    await session.flush()
    capture = AgentCapture(
        id=capture_id,
        payment_id=payment.id,
        call_id=call_id,
        agent_id=payment.agent_id,
        provider=call.provider if call is not None else "unknown",
        provider_session_id=session_id,
        status=AgentCaptureStatus.CAPTURING.value,
        fields={},
        required=[],
        steps=0,
    )
    session.add(capture)
    await ledger.record_created(platform, session, payment, source="agent")
    await _publish(platform, session, events.CaptureStarted, capture)
    await session.commit()
    return capture, payment


async def get(session: AsyncSession, principal: Principal, capture_id: uuid.UUID) -> AgentCapture:
    """The capture, if ``principal`` may see it: its agent's, or anyone's with
    ``payments:all`` (404 otherwise, as for payments)."""
    capture = await session.scalar(
        select(AgentCapture)
        .where(AgentCapture.id == capture_id)
        .execution_options(populate_existing=True)
    )
    sees_all = principal.can(PAYMENTS_ALL.resource, PAYMENTS_ALL.action)
    if capture is None or not (sees_all or capture.agent_id == user_id_of(principal)):
        raise ProblemError(CAPTURE_NOT_FOUND, f"no capture {capture_id}")
    return capture


async def ask_for(
    platform: Platform,
    session: AsyncSession,
    *,
    principal: Principal,
    capture_id: uuid.UUID,
    field: CaptureField,
) -> AgentCapture:
    """Ask the caller to key ``field`` (again: what was keyed into it is forgotten). The
    field is reset before the provider is asked: its first report may come back before
    the provider's answer to the request does."""
    await get(session, principal, capture_id)  # yours (404 otherwise)
    capture = await _locked(session, capture_id)
    _require_status(capture, AgentCaptureStatus.CAPTURING)
    attempts = int(capture.fields.get(field.value, {}).get("attempts", 0)) + 1
    capture.field = field.value
    capture.fields = capture.fields | {
        field.value: {"digits": 0, "masked": None, "complete": False, "error": None}
        | {"attempts": attempts}
    }
    await _publish(platform, session, events.CaptureProgressed, capture)
    await _drive(platform, session, principal, capture, field=field)  # the reset first
    return await get(session, principal, capture_id)


async def complete(
    platform: Platform, session: AsyncSession, *, principal: Principal, capture_id: uuid.UUID
) -> AgentCapture:
    """The caller keyed everything: the provider's connector charges the card now; its
    outcome arrives as progress (the payment is ``processing`` until then)."""
    capture = await _open(session, principal, capture_id, AgentCaptureStatus.CAPTURING)
    keyed = any(value.get("complete") for value in capture.fields.values())
    if capture.required or not keyed:
        missing = capture.required or [CaptureField.CARD_NUMBER.value]
        raise ProblemError(
            CAPTURE_INCOMPLETE, "the card details are not all keyed", required=missing
        )
    await _drive(platform, session, principal, capture, status="complete")
    capture = await _locked(session, capture_id)
    if AgentCaptureStatus(capture.status) is AgentCaptureStatus.CAPTURING:  # its outcome may be in
        capture.status = AgentCaptureStatus.COMPLETING.value
        payment = await _payment(session, capture)
        await ledger.move_payment(
            platform, session, payment, PaymentStatus.PROCESSING, source="agent"
        )
        await _publish(platform, session, events.CaptureProgressed, capture)
    await session.commit()
    return capture


async def cancel(
    platform: Platform, session: AsyncSession, *, principal: Principal, capture_id: uuid.UUID
) -> AgentCapture:
    """Stop the capture: nothing is charged. A call that ended took its session with it,
    so the provider's refusal then changes nothing here."""
    capture = await _open(session, principal, capture_id, AgentCaptureStatus.CAPTURING)
    call = await _call(session, capture.call_id)
    if call is not None and call.status == "in-progress":
        await _drive(platform, session, principal, capture, status="cancel")
    capture = await _locked(session, capture_id)
    if AgentCaptureStatus(capture.status).open:
        await _end(platform, session, capture, "cancelled", "cancelled-by-agent", None, None)
    await session.commit()
    return capture


async def _drive(
    platform: Platform,
    session: AsyncSession,
    principal: Principal,
    capture: AgentCapture,
    *,
    field: CaptureField | None = None,
    status: Literal["complete", "cancel"] | None = None,
) -> None:
    """One request to the provider about the session, with the next step's own idempotency
    key (the step counter is committed with the request)."""
    step = capture.steps = capture.steps + 1
    await update_payment_capture(
        platform,
        session,
        capture.call_id,
        session_id=capture.provider_session_id or "",
        idempotency_key=_key(capture.id, step),
        capture=field,
        status=status,
        actor=principal.label or principal.subject,
    )


async def apply_progress(
    platform: Platform, session: AsyncSession, call: Call, progress: PaymentProgress
) -> None:
    """The provider's report, in the webhook's transaction: the capture's fields, then its
    end (the ledger's outcome). An IVR ``<Pay>``'s progress is published as it is."""
    capture = None
    if progress.session_id:
        capture = await session.scalar(
            select(AgentCapture)
            .where(
                AgentCapture.call_id == call.id,
                AgentCapture.provider_session_id == progress.session_id,
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    if capture is None:
        if progress.session_id is None and progress.field is not None:
            fields = {progress.field.value: _field(progress, attempts=None)}
            await platform.events.publish(
                session,
                events.CaptureProgressed(
                    call_id=call.id,
                    status="capturing",
                    field=progress.field.value,
                    fields=fields,
                    required=list(progress.required),
                ),
            )
        return
    if not AgentCaptureStatus(capture.status).open:
        return  # a late report of a capture that ended
    if progress.field is not None:
        before = capture.fields.get(progress.field.value, {})
        capture.field = progress.field.value
        capture.fields = capture.fields | {
            progress.field.value: _field(progress, attempts=before.get("attempts", 1))
        }
    if not progress.partial:
        capture.required = list(progress.required)
    outcome = progress.capture
    if outcome is None:
        await _publish(platform, session, events.CaptureProgressed, capture)
        return
    await _end(
        platform,
        session,
        capture,
        outcome.status,
        outcome.result,
        outcome.confirmation,
        outcome.error,
    )


def _field(progress: PaymentProgress, *, attempts: int | None) -> dict[str, object]:
    found: dict[str, object] = {
        "digits": progress.digits,
        "masked": progress.masked,
        "complete": not progress.partial and progress.error is None and progress.digits > 0,
        "error": progress.error,
    }
    if progress.card_type and progress.field is CaptureField.CARD_NUMBER:
        found["card_type"] = progress.card_type[:32]
    if attempts is not None:
        found["attempts"] = attempts
    return found


async def _end(
    platform: Platform,
    session: AsyncSession,
    capture: AgentCapture,
    status: str,
    result: str,
    confirmation: str | None,
    error: str | None,
) -> None:
    capture_status, payment_status = ENDED.get(status, ENDED["failed"])
    capture.status = capture_status.value
    capture.result = result[:64]
    payment = await _payment(session, capture)
    if confirmation and payment.processor_payment_id is None:
        payment.processor_payment_id = confirmation[:255]
    if payment_status is PaymentStatus.SUCCEEDED:
        await ledger.move_payment(
            platform, session, payment, PaymentStatus.PROCESSING, source="provider"
        )
    failed = payment_status is not PaymentStatus.SUCCEEDED
    await ledger.move_payment(
        platform,
        session,
        payment,
        payment_status,
        source="provider",
        failure_code=result[:64] if failed else None,
        failure_reason=(error or result)[:500] if failed else None,
    )
    await _publish(platform, session, events.CaptureEnded, capture, result=capture.result)


async def _call(session: AsyncSession, call_id: uuid.UUID) -> Call | None:
    return await session.scalar(select(Call).where(Call.id == call_id))


async def _open(
    session: AsyncSession, principal: Principal, capture_id: uuid.UUID, wanted: AgentCaptureStatus
) -> AgentCapture:
    capture = await get(session, principal, capture_id)
    _require_status(capture, wanted)
    return capture


def _require_status(capture: AgentCapture, wanted: AgentCaptureStatus) -> None:
    if AgentCaptureStatus(capture.status) is not wanted:
        raise ProblemError(
            CAPTURE_NOT_OPEN, f"the capture is {capture.status}", capture_status=capture.status
        )


async def _locked(session: AsyncSession, capture_id: uuid.UUID) -> AgentCapture:
    capture = await session.scalar(
        select(AgentCapture)
        .where(AgentCapture.id == capture_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert capture is not None  # captures are never deleted but with their tenant
    return capture


async def _payment(session: AsyncSession, capture: AgentCapture) -> Payment:
    payment = await session.scalar(
        select(Payment)
        .where(Payment.id == capture.payment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert payment is not None
    return payment


async def _publish(
    platform: Platform,
    session: AsyncSession,
    kind: type[events.CaptureEvent],
    capture: AgentCapture,
    **extra: object,
) -> None:
    await platform.events.publish(
        session,
        kind(
            call_id=capture.call_id,
            capture_id=capture.id,
            payment_id=capture.payment_id,
            agent_id=capture.agent_id,
            status=capture.status,
            field=capture.field,
            fields=capture.fields,
            required=list(capture.required),
            **extra,
        ),
    )
