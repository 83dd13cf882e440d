"""The ``summaries.summarize`` job: a summary per finished call, in the background.

* :func:`on_events` (``kraliki_events``): a call's end (``calls.call.completed``) makes a
  pending row, once per call whatever the number of deliveries of the event (``call_id`` is
  unique; the insert ignores a second one), and wakes the job after a short settle time.
* :func:`run` (the job): takes due pending rows one at a time. Taking one is a short
  transaction that counts the attempt and pushes ``next_attempt_at`` a lease ahead (``FOR
  UPDATE SKIP LOCKED`` on PostgreSQL, so an on-demand summary and the job never take one row
  twice); the model is asked outside any transaction; the answer is stored in another. A
  worker that dies mid-attempt leaves the row to be taken again when its lease runs out.
* A failed attempt is retried on the settings' schedule; after the last one the row is
  ``failed`` and ``summaries.call.failed`` is published. Nothing here ever touches the call.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import DeliveredEvent, JobTopic, Platform, current_tenant_id, utcnow
from plugins.ai import complete
from plugins.calls import Call
from plugins.summaries import conversation
from plugins.summaries.config import settings_of
from plugins.summaries.events import CallSummarized, CallSummaryFailed
from plugins.summaries.models import CallSummaryRow, SummaryStatus
from plugins.summaries.prompt import SYSTEM, TASK, CallSummary, build_prompt

logger = logging.getLogger("kraliki.summaries")

TOPIC = "summaries.summarize"
PLUGIN = "summaries"
ENDED = frozenset({"calls.call.completed"})
"""The end of an answered call: the other final statuses (busy, no-answer, failed,
canceled) never had a conversation."""
RUN_BUDGET_SECONDS = 60.0


# -- making the work ---------------------------------------------------------------------


async def _insert(session: AsyncSession, call_ids: Sequence[uuid.UUID], *, at: datetime) -> None:
    """Pending rows for ``call_ids``; a call that has one keeps it."""
    tenant_id = current_tenant_id()
    postgres = session.get_bind().dialect.name == "postgresql"
    insert = pg_insert if postgres else sqlite_insert
    now = utcnow()
    for call_id in dict.fromkeys(call_ids):
        await session.execute(
            insert(CallSummaryRow)
            .values(
                tenant_id=tenant_id,
                id=uuid.uuid4(),
                call_id=call_id,
                status=SummaryStatus.PENDING.value,
                attempts=0,
                next_attempt_at=at,
                summary="",
                reason="",
                follow_ups=[],
                fell_back=False,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["tenant_id", "call_id"])
        )


async def enqueue(
    platform: Platform, session: AsyncSession, call_ids: Sequence[uuid.UUID], *, at: datetime
) -> None:
    """Pending rows for ``call_ids`` (a call that has one keeps it) and the job woken."""
    await _insert(session, call_ids, at=at)
    await platform.jobs.wake(session, TOPIC, at=at)


def in_attempt(platform: Platform, row: CallSummaryRow) -> bool:
    """An attempt at ``row`` runs now (its lease has not run out)."""
    lease = timedelta(seconds=settings_of(platform).attempt_lease_seconds)
    started = row.attempt_started_at
    return started is not None and started > utcnow() - lease


async def claim(
    platform: Platform, session: AsyncSession, call_id: uuid.UUID
) -> CallSummaryRow | None:
    """Start a fresh attempt at the call's summary (made if missing, whatever its status) in
    the caller's transaction (the caller commits, then runs :func:`attempt`); None when an
    attempt runs already. The job is woken for when the lease runs out, in case the caller
    dies mid-attempt."""
    now = utcnow()
    locked = select(CallSummaryRow).where(CallSummaryRow.call_id == call_id).with_for_update()
    row = await session.scalar(locked)
    if row is None:
        await _insert(session, [call_id], at=now)
        row = await session.scalar(locked)
    if row is None or in_attempt(platform, row):
        return None
    row.status = SummaryStatus.PENDING.value
    row.attempts = 1
    row.attempt_started_at = now
    row.attempt_token = uuid.uuid4()
    row.next_attempt_at = now + timedelta(seconds=settings_of(platform).attempt_lease_seconds)
    row.skip_reason = row.last_error = None
    await platform.jobs.wake(session, TOPIC, at=row.next_attempt_at)
    return row


async def on_events(platform: Platform, events: Sequence[DeliveredEvent]) -> None:
    ended = [uuid.UUID(str(e.payload["call_id"])) for e in events if e.name in ENDED]
    if not ended:
        return
    at = utcnow() + timedelta(seconds=settings_of(platform).settle_seconds)
    async with platform.database.session() as session:
        await enqueue(platform, session, ended, at=at)
        await session.commit()


# -- doing it ----------------------------------------------------------------------------


async def take(platform: Platform, session: AsyncSession) -> CallSummaryRow | None:
    """Take a due pending row for one attempt, and commit: None when there is none (rows
    other workers hold are skipped)."""
    now = utcnow()
    lease = timedelta(seconds=settings_of(platform).attempt_lease_seconds)
    query = select(CallSummaryRow).where(
        CallSummaryRow.status == SummaryStatus.PENDING.value,
        or_(
            CallSummaryRow.attempt_started_at.is_(None),
            CallSummaryRow.attempt_started_at <= now - lease,
        ),
    )
    query = query.where(CallSummaryRow.next_attempt_at <= now).order_by(
        CallSummaryRow.next_attempt_at, CallSummaryRow.id
    )
    row = await session.scalar(query.limit(1).with_for_update(skip_locked=True))
    if row is None:
        return None
    row.attempts += 1
    row.attempt_started_at = now
    row.attempt_token = uuid.uuid4()
    row.next_attempt_at = now + lease
    await session.commit()
    return row


async def attempt(platform: Platform, taken: CallSummaryRow) -> None:
    """One attempt at the row ``taken`` (by :func:`take` or :func:`claim`): summarised,
    skipped, or failed (retried later, or for good after the last attempt)."""
    row_id, token = taken.id, taken.attempt_token
    try:
        async with platform.database.session() as session:
            row = await _row(session, row_id, token)
            if row is None:
                return
            call = await session.scalar(select(Call).where(Call.id == row.call_id))
            if call is None:
                await _skip(session, row, "call_gone")
                return
            if await conversation.is_agent_leg(session, call.id):
                await _skip(session, row, "agent_leg")
                return
            lines = await conversation.transcript(session, call.id)
            if not lines:
                await _skip(session, row, "no_transcript")
                return
            codes = await conversation.disposition_codes(session)
        answer = await complete(
            platform,
            plugin=PLUGIN,
            task=TASK,
            prompt=build_prompt(lines, codes),
            output=CallSummary,
            system=SYSTEM,
        )
        parsed = answer.parsed
        if parsed is None:
            raise ValueError("the model's answer is not a call summary")
    except Exception as exc:
        logger.warning("summary of row %s failed: %s", row_id, type(exc).__name__, exc_info=exc)
        await _failed(platform, row_id, token, type(exc).__name__)
        return
    known = {code.code for code in codes}
    disposition = parsed.suggested_disposition if parsed.suggested_disposition in known else None
    async with platform.database.session() as session:
        row = await _row(session, row_id, token)
        if row is None:
            return
        row.status = SummaryStatus.DONE.value
        row.next_attempt_at = row.attempt_started_at = row.attempt_token = None
        row.skip_reason = row.last_error = None
        row.summary = parsed.summary
        row.reason = parsed.reason
        row.outcome = parsed.outcome
        row.suggested_disposition = disposition
        row.follow_ups = list(parsed.follow_ups)
        row.provider = answer.provider
        row.model = answer.model
        row.fell_back = answer.fell_back
        row.summarized_at = utcnow()
        await platform.events.publish(
            session,
            CallSummarized(
                call_id=row.call_id,
                summary_id=row.id,
                attempts=row.attempts,
                summary=row.summary,
                reason=row.reason,
                outcome=parsed.outcome,
                suggested_disposition=disposition,
                follow_ups=row.follow_ups,
                provider=answer.provider,
                model=answer.model,
                fell_back=answer.fell_back,
            ),
        )
        await session.commit()


async def _row(
    session: AsyncSession, row_id: uuid.UUID, token: uuid.UUID | None
) -> CallSummaryRow | None:
    """The row, locked, while the attempt ``token`` is still its own (None: the row is gone,
    erased, or another attempt took it over after this one's lease ran out)."""
    row = await session.scalar(
        select(CallSummaryRow).where(CallSummaryRow.id == row_id).with_for_update()
    )
    if row is None or row.attempt_token != token:
        logger.info("summary row %s: attempt %s no longer holds it", row_id, token)
        return None
    return row


async def _skip(session: AsyncSession, row: CallSummaryRow, reason: str) -> None:
    row.status = SummaryStatus.SKIPPED.value
    row.skip_reason = reason
    row.next_attempt_at = row.attempt_started_at = row.attempt_token = None
    await session.commit()


async def _failed(
    platform: Platform, row_id: uuid.UUID, token: uuid.UUID | None, error: str
) -> None:
    schedule = settings_of(platform).retry_schedule
    async with platform.database.session() as session:
        row = await _row(session, row_id, token)
        if row is None:
            return
        row.last_error = error[:200]
        row.attempt_started_at = row.attempt_token = None
        if row.attempts <= len(schedule):
            row.next_attempt_at = utcnow() + timedelta(seconds=schedule[row.attempts - 1])
            await platform.jobs.wake(session, TOPIC, at=row.next_attempt_at)
        else:
            row.status = SummaryStatus.FAILED.value
            row.next_attempt_at = None
            await platform.events.publish(
                session,
                CallSummaryFailed(
                    call_id=row.call_id, summary_id=row.id, attempts=row.attempts, error=error
                ),
            )
        await session.commit()


async def run(platform: Platform, tenant_id: uuid.UUID) -> datetime | None:
    """``summaries.summarize``: summarise what is due; when the next row is due (or None)."""
    deadline = time.monotonic() + RUN_BUDGET_SECONDS
    while True:
        if time.monotonic() > deadline:
            return utcnow()  # more may be due: run again at once, within the job's lease
        async with platform.database.session() as session:
            row = await take(platform, session)
        if row is None:
            break
        await attempt(platform, row)
    async with platform.database.session() as session:
        due: datetime | None = await session.scalar(
            select(func.min(CallSummaryRow.next_attempt_at)).where(
                CallSummaryRow.status == SummaryStatus.PENDING.value
            )
        )
    return due


SUMMARIZE_JOB = JobTopic(TOPIC, run, "Summarise finished calls (summary, reason, outcome).")
