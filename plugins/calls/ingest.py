"""Applying a verified provider webhook: keep it, apply its events, run the instructions the
provider asked for, remember the answer.

The receipt (unique per tenant, provider and provider delivery id) is written in the same
transaction as the effects, so a redelivery is recognised and answered as the first time.
Events about no known call are kept as ``pending`` on the receipt (``orphan``) and applied by
:func:`reprocess` once the call exists; a failure to run instructions marks the receipt
``failed`` and a redelivery runs them again. A webhook with a value no column can hold (see
``plugins.calls.storable``) is kept as ``rejected``, with what it carried, and refused as
malformed, now and on every redelivery.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import (
    CircuitOpenError,
    DependencyError,
    Platform,
    UnstorableValueError,
    current_tenant_id,
    storable_json,
    utcnow,
)
from plugins.calls import service
from plugins.calls.models import Call, WebhookReceipt
from plugins.calls.normalized import dump_events, load_events
from plugins.calls.payment_progress import apply_payment_progress
from plugins.calls.phone import is_e164
from plugins.calls.provider import (
    CallProgress,
    CallStatus,
    Direction,
    Hangup,
    InstructionsNeeded,
    MachineDetected,
    NormalizedEvent,
    ParsedWebhook,
    PaymentProgress,
    ProviderRefused,
    RecordingProgress,
    Say,
    TelephonyProvider,
    TranscriptSegment,
    UnsupportedAction,
    WebhookAnswer,
    WebhookMalformed,
)
from plugins.calls.routing import UNAVAILABLE, call_ended, next_instructions
from plugins.calls.storable import storable_webhook

logger = logging.getLogger(__name__)


@dataclass
class Applied:
    """What applying a webhook's events left to do."""

    to_run: list[tuple[Call, Sequence[Any]]] = field(default_factory=list)
    pending: list[NormalizedEvent] = field(default_factory=list)
    """Events about no call the platform knows (yet)."""


async def process(
    platform: Platform,
    session: AsyncSession,
    provider: TelephonyProvider,
    provider_name: str,
    kind: str,
    parsed: ParsedWebhook,
    call_hint: uuid.UUID | None,
) -> WebhookAnswer:
    """Keep and apply a verified webhook in ``session`` (the webhook's one session, which
    read the tenant and verified the signature; nothing written in it yet) and commit;
    :class:`WebhookMalformed` when a value it carries cannot be stored (it is then kept as
    ``rejected``, in a second transaction once the first is rolled back)."""
    parsed = storable_webhook(parsed)
    try:
        return await _process(platform, session, provider, provider_name, kind, parsed, call_hint)
    except UnstorableValueError as exc:
        error = f"a value cannot be stored: {exc}"
        await session.rollback()
        await _claim(session, provider_name, kind, parsed, call_hint, rejected=error)
        await session.commit()
        logger.warning("%s webhook rejected: %s", provider_name, error)
        raise WebhookMalformed(error) from None


async def _process(
    platform: Platform,
    session: AsyncSession,
    provider: TelephonyProvider,
    provider_name: str,
    kind: str,
    parsed: ParsedWebhook,
    call_hint: uuid.UUID | None,
) -> WebhookAnswer:
    receipt = await _claim(session, provider_name, kind, parsed, call_hint)
    if receipt is None:
        return await _redelivered(platform, session, provider, provider_name, parsed)
    applied = await apply_events(platform, session, provider_name, parsed.events, call_hint)
    _mark_pending(receipt, applied.pending, call_hint)
    if not applied.to_run:  # the answer is known: kept in the same transaction
        answer = provider.empty_answer()
        _keep_answer(receipt, answer)
        await session.commit()
        return answer
    if provider.style == "commands":  # commands go out after the effects are kept
        await session.commit()
    # A document-style answer (TwiML) is made here, without the network: it is kept in
    # the same transaction as the webhook's effects.
    return await _run(session, provider, receipt, applied.to_run)


async def _claim(
    session: AsyncSession,
    provider: str,
    kind: str,
    parsed: ParsedWebhook,
    call_hint: uuid.UUID | None,
    *,
    rejected: str | None = None,
) -> WebhookReceipt | None:
    """Keep the webhook (as ``rejected`` with that error, if given); None when it was kept
    before (a redelivery).

    One ``INSERT ... ON CONFLICT DO NOTHING`` in the caller's transaction, not a savepoint
    that catches the unique violation: on SQLite a savepoint opened first in a transaction
    is the transaction (the driver begins none before it) and releasing it would commit
    the receipt alone, before the effects it stands for; on PostgreSQL it costs two round
    trips more.
    """
    tenant_id = current_tenant_id()
    if tenant_id is None:
        raise RuntimeError("webhook receipts are kept inside the tenant's scope")
    postgres = session.get_bind().dialect.name == "postgresql"
    statement = (
        (postgresql_insert if postgres else sqlite_insert)(WebhookReceipt)
        .values(
            tenant_id=tenant_id,
            id=uuid.uuid4(),
            provider=provider,
            dedupe_key=parsed.dedupe_key[:200],
            kind=kind,
            received_at=utcnow(),
            payload=dict(parsed.payload),
            events={
                "call": str(call_hint) if call_hint else None,
                "items": storable_json(dump_events(parsed.events)),
                "pending": [],
            },
            outcome="processed" if rejected is None else "rejected",
            error=None if rejected is None else rejected[:500],
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "provider", "dedupe_key"])
        .returning(WebhookReceipt)
    )
    receipt: WebhookReceipt | None = (await session.scalars(statement)).one_or_none()
    return receipt


def _mark_pending(
    receipt: WebhookReceipt, pending: list[NormalizedEvent], call_hint: uuid.UUID | None
) -> None:
    if not pending:
        return
    receipt.outcome = "orphan"
    receipt.error = "no known call for " + ", ".join(type(e).__name__ for e in pending)
    receipt.events = {**receipt.events, "pending": dump_events(pending)}


async def _run(
    session: AsyncSession,
    provider: TelephonyProvider,
    receipt: WebhookReceipt,
    to_run: list[tuple[Call, Sequence[Any]]],
) -> WebhookAnswer:
    """Run the instructions and keep the answer (a command-style provider's commands are
    sent outside any transaction); on failure mark the receipt so that the provider's
    redelivery retries."""
    answer = provider.empty_answer()
    try:
        for call, steps in to_run:
            try:
                answer = await provider.execute(service.call_ref(call), steps)
            except (ProviderRefused, UnsupportedAction) as exc:
                # Redelivering would not help: keep the webhook, say why in the timeline, and
                # let the caller hear an apology rather than silence.
                service.note(
                    session, call, "instructions-refused", source="provider", reason=str(exc)[:300]
                )
                receipt.error = f"instructions refused: {exc}"[:500]
                answer = await _apologize(provider, call, answer)
    except (DependencyError, CircuitOpenError) as exc:
        receipt.outcome, receipt.error = "failed", f"running instructions: {exc}"[:500]
        await session.commit()
        raise
    if receipt.outcome == "failed":
        receipt.outcome, receipt.error = "processed", None
    _keep_answer(receipt, answer)
    await session.commit()
    return answer


async def _apologize(
    provider: TelephonyProvider, call: Call, answer: WebhookAnswer
) -> WebhookAnswer:
    """Say the line cannot take the call and hang up (after instructions the provider
    refused); ``answer`` when even that is refused."""
    try:
        return await provider.execute(service.call_ref(call), [Say(text=UNAVAILABLE), Hangup()])
    except (ProviderRefused, UnsupportedAction):
        logger.warning("call %s: the provider refused the apology too", call.id)
        return answer


def _keep_answer(receipt: WebhookReceipt, answer: WebhookAnswer) -> None:
    """What a redelivery will be answered."""
    receipt.answer_type, receipt.answer_body = answer.content_type, answer.body.decode()


async def _redelivered(
    platform: Platform,
    session: AsyncSession,
    provider: TelephonyProvider,
    provider_name: str,
    parsed: ParsedWebhook,
) -> WebhookAnswer:
    """A delivery seen before: its stored answer; if running its instructions failed last
    time, run them now (nothing else is applied twice)."""
    receipt = await session.scalar(
        select(WebhookReceipt)
        .where(
            WebhookReceipt.provider == provider_name,
            WebhookReceipt.dedupe_key == parsed.dedupe_key[:200],
        )
        .with_for_update()
    )
    if receipt is None:
        return provider.empty_answer()
    if receipt.outcome == "rejected":
        raise WebhookMalformed(receipt.error or "a value cannot be stored")
    if receipt.outcome != "failed":
        if receipt.answer_body is None:
            return provider.empty_answer()
        return WebhookAnswer(
            body=receipt.answer_body.encode(), content_type=receipt.answer_type or "text/plain"
        )
    hint = _hint(receipt)
    to_run: list[tuple[Call, Sequence[Any]]] = []
    for event in parsed.events:
        if not isinstance(event, InstructionsNeeded):
            continue
        call = await service.find_call(session, provider_name, event.provider_call_id, hint=hint)
        if call is not None and not CallStatus(call.status).terminal:
            steps = await next_instructions(platform, session, call, event)
            if steps:
                to_run.append((call, steps))
    return await _run(session, provider, receipt, to_run)


def _hint(receipt: WebhookReceipt) -> uuid.UUID | None:
    raw = (receipt.events or {}).get("call")
    return uuid.UUID(raw) if raw else None


async def apply_events(
    platform: Platform,
    session: AsyncSession,
    provider: str,
    events: Sequence[NormalizedEvent],
    call_hint: uuid.UUID | None,
) -> Applied:
    applied = Applied()
    for event in events:
        call = await _call_for(platform, session, provider, event, call_hint)
        if call is None:
            applied.pending.append(event)
            continue
        steps = await _apply(platform, session, call, event)
        if steps:
            applied.to_run.append((call, steps))
    return applied


async def _call_for(
    platform: Platform,
    session: AsyncSession,
    provider: str,
    event: NormalizedEvent,
    call_hint: uuid.UUID | None,
) -> Call | None:
    call = await service.find_call(session, provider, event.provider_call_id, hint=call_hint)
    if call is not None:
        return call
    if (
        isinstance(event, CallProgress | InstructionsNeeded)
        and event.direction is Direction.INBOUND
    ):
        return await _new_inbound(platform, session, provider, event)
    return None


async def _new_inbound(
    platform: Platform,
    session: AsyncSession,
    provider: str,
    event: CallProgress | InstructionsNeeded,
) -> Call | None:
    """A call the platform hears about first from the provider: someone called a number."""
    if not (event.from_number and event.to_number):
        return None
    call = Call(
        direction=Direction.INBOUND.value,
        # A caller id may be withheld or not a number ("anonymous"): keep what came.
        from_number=event.from_number[:32],
        to_number=event.to_number[:32],
        provider=provider,
        provider_call_id=event.provider_call_id,
        status=CallStatus.QUEUED.value,
        tags=[],
        attributes={},
        instructions=[],
        notes="",
    )
    session.add(call)
    await session.flush()
    service.traced(call)
    service.note(
        session,
        call,
        "created",
        source="provider",
        direction="inbound",
        caller_id_valid=is_e164(event.from_number),
    )
    await service.publish(platform, session, service.STATUS_EVENTS[CallStatus.QUEUED], call)
    await service.schedule_upkeep(platform, session)
    return call


async def _apply(
    platform: Platform, session: AsyncSession, call: Call, event: NormalizedEvent
) -> Sequence[Any] | None:
    if isinstance(event, CallProgress):
        was_terminal = CallStatus(call.status).terminal
        await service.apply_progress(platform, session, call, event)
        if not was_terminal and CallStatus(call.status).terminal and call.handler:
            await call_ended(platform, session, call)
    elif isinstance(event, RecordingProgress):
        await service.apply_recording(platform, session, call, event)
    elif isinstance(event, TranscriptSegment):
        await service.apply_transcript(platform, session, call, event)
    elif isinstance(event, MachineDetected):
        await service.apply_detection(platform, session, call, event)
    elif isinstance(event, PaymentProgress):
        await apply_payment_progress(platform, session, call, event)
    elif isinstance(event, InstructionsNeeded):
        if CallStatus(call.status).terminal:
            return None
        if event.reason == "gathered":
            service.note(
                session,
                call,
                "input",
                source="provider",
                digits_count=len(event.digits or ""),
                speech=bool(event.speech) or None,
            )
        elif event.reason == "dialed":
            status = event.dial_status.value if event.dial_status else None
            service.note(session, call, "dialed", source="provider", status=status)
        return await next_instructions(platform, session, call, event)
    return None


async def reprocess(platform: Platform) -> tuple[int, int]:
    """Apply the pending events of the tenant's orphan receipts whose call is now known
    (instructions are not run: the moment has passed). Returns (applied, still orphan)."""
    done = left = 0
    async with platform.database.session() as session:
        receipts = list(
            await session.scalars(
                select(WebhookReceipt)
                .where(WebhookReceipt.outcome == "orphan")
                .order_by(WebhookReceipt.received_at)
                .with_for_update()
            )
        )
        for receipt in receipts:
            events = [
                e
                for e in load_events(receipt.events.get("pending", []))
                if not isinstance(e, InstructionsNeeded)
            ]
            applied = await apply_events(
                platform, session, receipt.provider, events, _hint(receipt)
            )
            if applied.pending:
                receipt.events = {**receipt.events, "pending": dump_events(applied.pending)}
                left += 1
            else:
                receipt.outcome, receipt.error = "processed", None
                receipt.events = {**receipt.events, "pending": []}
                done += 1
        await session.commit()
    return done, left
