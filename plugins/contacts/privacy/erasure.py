"""Erasure of a contact across every plugin (``kraliki_contact_erased``).

A request creates an :class:`Erasure` row and wakes :data:`ERASURE_JOB`. The job erases in
one transaction per contact: every plugin's part (the contacts plugin's own included) commits
together with the erasure marked completed, or nothing does and the erasure is retried later
(``attempts``, ``last_error`` without personal data, a growing delay).
"""

from __future__ import annotations

import logging
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import HookCallError, JobTopic, Platform, record_audit_event, utcnow
from plugins.contacts.compliance.hashing import warm_key
from plugins.contacts.events import ContactErased
from plugins.contacts.models import Contact, Erasure
from plugins.contacts.privacy.export import contact_numbers_and_emails

log = logging.getLogger(__name__)

PENDING = "pending"
COMPLETED = "completed"
TOPIC = "contacts.erase"
BATCH = 50
"""Erasures one run of the job takes; more due makes it run again at once."""
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)


def new_pseudonym() -> str:
    """``erased-`` and 12 hex digits: what replaces the contact's name and numbers."""
    return f"erased-{secrets.token_hex(6)}"


async def request_erasure(
    platform: Platform, session: AsyncSession, *, contact_id: uuid.UUID, requested_by: str | None
) -> tuple[Erasure, bool]:
    """The contact's erasure: the one already asked for, or a new one queued (and the job
    woken). Returns it and whether it is new; commits nothing."""
    existing = await session.scalar(
        select(Erasure)
        .where(Erasure.contact_id == contact_id)
        .order_by(Erasure.created_at.desc(), Erasure.id.desc())
        .limit(1)
    )
    if existing is not None:
        return existing, False
    erasure = Erasure(
        contact_id=contact_id,
        pseudonym=new_pseudonym(),
        status=PENDING,
        requested_by=requested_by,
        attempts=0,
        next_attempt_at=utcnow(),
    )
    session.add(erasure)
    await session.flush()
    await platform.jobs.wake(session, TOPIC)
    return erasure, True


def retry_delay(attempts: int) -> timedelta:
    """30 s after the first failure, doubling, at most an hour."""
    delay: timedelta = FIRST_RETRY * (2 ** min(max(attempts - 1, 0), 16))
    return min(delay, LONGEST_RETRY)


def safe_error(exc: BaseException) -> str:
    """What failed, without the error's message (it may quote a number or a name)."""
    if isinstance(exc, HookCallError):
        cause = exc.__cause__
        kind = type(cause).__name__ if cause is not None else "error"
        return f"plugin {exc.plugin!r} failed in {exc.hook}: {kind}"[:500]
    return type(exc).__name__[:500]


async def erase(platform: Platform, session: AsyncSession, erasure: Erasure) -> None:
    """Erase the contact in every plugin and mark the erasure completed (no commit)."""
    contact = await session.scalar(select(Contact).where(Contact.id == erasure.contact_id))
    numbers, emails = await contact_numbers_and_emails(session, erasure.contact_id)
    await warm_key(platform, session, numbers)  # before any plugin writes (SQLite's lock)
    answered = await platform.hooks.collect(
        "kraliki_contact_erased",
        platform=platform,
        session=session,
        tenant_id=erasure.tenant_id,
        contact_id=erasure.contact_id,
        numbers=numbers,
        emails=emails,
        pseudonym=erasure.pseudonym,
    )
    erasure.status = COMPLETED
    erasure.completed_at = utcnow()
    erasure.next_attempt_at = None
    erasure.last_error = None
    erasure.attempts += 1
    if contact is not None:
        await session.refresh(contact)
        await platform.events.publish(
            session,
            ContactErased(
                contact_id=contact.id, contact_version=contact.version, erasure_id=erasure.id
            ),
        )
    record_audit_event(
        session,
        None,
        "contacts.contact_erased",
        target_type="contact",
        target_id=erasure.contact_id,
        details={
            "erasure_id": str(erasure.id),
            "numbers": len(numbers),
            "emails": len(emails),
            "plugins": sorted({plugin for plugin, _ in answered}),
        },
        actor_label="contacts.erase job",
    )


async def _erase_one(platform: Platform, erasure_id: uuid.UUID) -> None:
    try:
        async with platform.database.session() as session:
            erasure = await session.scalar(
                select(Erasure).where(Erasure.id == erasure_id, Erasure.status == PENDING)
            )
            if erasure is None:
                return
            await erase(platform, session, erasure)
            await session.commit()
    except Exception as exc:
        reason = safe_error(exc)
        log.warning("erasure %s failed, to be retried: %s", erasure_id, reason)
        async with platform.database.session() as session:
            erasure = await session.scalar(select(Erasure).where(Erasure.id == erasure_id))
            if erasure is None or erasure.status != PENDING:
                return
            erasure.attempts += 1
            erasure.last_error = reason
            erasure.next_attempt_at = utcnow() + retry_delay(erasure.attempts)
            await session.commit()


async def run_erasures(platform: Platform, tenant_id: uuid.UUID) -> datetime | None:
    """The job: erase every contact whose erasure is due; answer when the next one is."""
    async with platform.database.session() as session:
        due = list(
            await session.scalars(
                select(Erasure.id)
                .where(Erasure.status == PENDING, Erasure.next_attempt_at <= utcnow())
                .order_by(Erasure.next_attempt_at, Erasure.id)
                .limit(BATCH)
            )
        )
    for erasure_id in due:
        await _erase_one(platform, erasure_id)
    if len(due) == BATCH:
        return utcnow()
    async with platform.database.session() as session:
        following: datetime | None = await session.scalar(
            select(func.min(Erasure.next_attempt_at)).where(Erasure.status == PENDING)
        )
    return following


ERASURE_JOB = JobTopic(TOPIC, run_erasures, "Erase contacts in every plugin.")
