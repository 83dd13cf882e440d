"""Calls join the timeline of the contact whose number they were to or from.

Learned from the calls plugin's events (``calls.call.*``), never from its tables: the
contact's number is the caller's on an inbound call and the callee's on an outbound one.
Every event carries the call as it is after the change, so an interaction is a snapshot
kept up to date, and ``last_event_position`` makes redelivered or late older events change
nothing. A call to a number several contacts share joins each of their timelines.

Calls are linked when their events arrive: a number added to a contact later does not pull
the calls made to it before into the contact's timeline.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import DeliveredEvent, Platform, current_tenant_id, tenant_scope
from plugins.calls import TERMINAL_STATUSES
from plugins.contacts.events import ContactCallLinked
from plugins.contacts.lookup import owners_of_numbers
from plugins.contacts.models import Contact, Interaction

log = logging.getLogger(__name__)

CALL_EVENTS = "calls.call."
UPDATED = "calls.call.updated"
_TERMINAL = frozenset(str(status) for status in TERMINAL_STATUSES)
_DIRECTIONS = {"inbound": "from_number", "outbound": "to_number"}
ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class CallFact:
    """What one call event says about the call, checked."""

    call_id: uuid.UUID
    direction: str
    number: str
    status: str
    position: int
    occurred_at: datetime
    duration_seconds: int | None
    updated: bool
    """A ``calls.call.updated``: it carries the call's disposition and notes."""
    disposition: str | None
    notes: str | None


def read_fact(event: DeliveredEvent) -> CallFact | None:
    """The event's facts, or None: for a call to a SIP address (an agent's leg), and
    (logged, without personal data) for a payload that is not a call's."""
    payload = event.payload
    try:
        call_id = uuid.UUID(str(payload["call_id"]))
        direction = str(payload["direction"])
        number = payload[_DIRECTIONS[direction]]
        status = str(payload["status"])
        duration = payload.get("duration_seconds")
        disposition = payload.get("disposition")
        notes = payload.get("notes")
        if isinstance(number, str) and number.startswith("sip:"):
            return None  # an agent's softphone or a loopback agent: nobody's contact number
        if not isinstance(number, str) or not number.startswith("+") or len(number) > 32:
            raise ValueError("number")
        if len(status) > 16 or (duration is not None and not isinstance(duration, int)):
            raise ValueError("status or duration")
        if disposition is not None and (not isinstance(disposition, str) or len(disposition) > 64):
            raise ValueError("disposition")
        if notes is not None and not isinstance(notes, str):
            raise ValueError("notes")
    except (KeyError, ValueError, TypeError) as exc:
        kind = type(exc).__name__
        log.warning("call event %s not linked: malformed payload (%s)", event.id, kind)
        return None
    return CallFact(
        call_id=call_id,
        direction=direction,
        number=number,
        status=status,
        position=event.position,
        occurred_at=event.occurred_at,
        duration_seconds=duration,
        updated=event.name == UPDATED,
        disposition=disposition,
        notes=notes,
    )


async def link_calls(platform: Platform, events: Sequence[DeliveredEvent]) -> None:
    """Link the calls of a batch of events to their contacts: one transaction per tenant.

    A tenant whose batch fails leaves the others linked; the first failure is raised at the
    end, so the kernel logs and counts it.
    """
    by_tenant: dict[uuid.UUID, list[DeliveredEvent]] = {}
    for event in events:
        if event.name.startswith(CALL_EVENTS):
            by_tenant.setdefault(event.tenant_id, []).append(event)
    failure: Exception | None = None
    for tenant_id, batch in by_tenant.items():
        try:
            with tenant_scope(tenant_id):
                await _link_with_retries(platform, batch)
        except Exception as exc:  # the other tenants still get their links
            failure = failure or exc
    if failure is not None:
        raise failure


async def _link_with_retries(platform: Platform, batch: Sequence[DeliveredEvent]) -> None:
    """A batch counts as delivered even when its hook fails, so a conflict with a concurrent
    writer (the same call linked at once, a deadlock) is retried here rather than lost."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            async with platform.database.session() as session:
                await link_batch(platform, session, batch)
                await session.commit()
            return
        except DBAPIError:
            if attempt == ATTEMPTS:
                raise
            log.info("call links of a batch conflicted; trying again (%d)", attempt)


async def link_batch(
    platform: Platform, session: AsyncSession, events: Sequence[DeliveredEvent]
) -> None:
    """Apply one tenant's call events to its interactions and contacts (no commit)."""
    facts = sorted(
        (fact for fact in map(read_fact, events) if fact is not None), key=lambda f: f.position
    )
    if not facts:
        return
    owners = await owners_of_numbers(session, {fact.number for fact in facts})
    known = await _interactions(session, {fact.call_id for fact in facts})
    touched: set[uuid.UUID] = set()
    linked: list[tuple[Contact, Interaction]] = []
    for fact in facts:
        rows = known.setdefault(fact.call_id, {})
        for contact_id, row in rows.items():
            if _apply(row, fact):
                touched.add(contact_id)
        for contact in owners.get(fact.number, ()):
            if contact.id in rows:
                continue
            row = Interaction(
                contact_id=contact.id,
                call_id=fact.call_id,
                direction=fact.direction,
                number=fact.number,
                status=fact.status,
                notes="",
                started_at=fact.occurred_at,
            )
            _apply(row, fact)
            session.add(row)
            rows[contact.id] = row
            linked.append((contact, row))
            touched.add(contact.id)
    if not touched:
        return
    await session.flush()
    for contact_id in sorted(touched):
        await _summarise(session, contact_id)
    for contact, row in linked:
        await platform.events.publish(
            session,
            ContactCallLinked(
                contact_id=contact.id,
                contact_version=contact.version,
                call_id=row.call_id,
                direction=row.direction,
            ),
        )


async def _interactions(
    session: AsyncSession, call_ids: set[uuid.UUID]
) -> dict[uuid.UUID, dict[uuid.UUID, Interaction]]:
    """The interactions of these calls (call -> contact -> row), except those of erased
    contacts (they stay as the erasure left them)."""
    erased = select(Contact.id).where(
        Contact.tenant_id == current_tenant_id(), Contact.erased_at.is_not(None)
    )
    rows = await session.scalars(
        select(Interaction).where(
            Interaction.call_id.in_(sorted(call_ids)), Interaction.contact_id.not_in(erased)
        )
    )
    found: dict[uuid.UUID, dict[uuid.UUID, Interaction]] = {}
    for row in rows:
        found.setdefault(row.call_id, {})[row.contact_id] = row
    return found


def _apply(row: Interaction, fact: CallFact) -> bool:
    """Bring the interaction to what the event says, unless it saw a newer event already."""
    if row.last_event_position is not None and fact.position <= row.last_event_position:
        return False
    row.status = fact.status
    if row.started_at is None or fact.occurred_at < row.started_at:
        row.started_at = fact.occurred_at
    if fact.status in _TERMINAL and row.ended_at is None:
        row.ended_at = fact.occurred_at
    if fact.duration_seconds is not None:
        row.duration_seconds = fact.duration_seconds
    if fact.updated:
        row.disposition = fact.disposition
        if fact.notes is not None:
            row.notes = fact.notes
    row.last_event_position = fact.position
    return True


async def _summarise(session: AsyncSession, contact_id: uuid.UUID) -> None:
    """Recompute the contact's call summary (segments filter on it) from its interactions.

    Counting rows rather than adding one per event counts each call once, however often its
    events arrive. The contact's ``updated_at`` and version stay: calls are not edits.
    """
    mine = Interaction.contact_id == contact_id
    newest = (Interaction.started_at.desc(), Interaction.id.desc())
    count = await session.scalar(select(func.count()).select_from(Interaction).where(mine))
    last = (
        await session.execute(
            select(Interaction.started_at, Interaction.status)
            .where(mine)
            .order_by(*newest)
            .limit(1)
        )
    ).first()
    disposition = await session.scalar(
        select(Interaction.disposition)
        .where(mine, Interaction.disposition.is_not(None))
        .order_by(*newest)
        .limit(1)
    )
    await session.execute(
        update(Contact)
        .where(Contact.tenant_id == current_tenant_id(), Contact.id == contact_id)
        .values(
            call_count=count or 0,
            last_call_at=last[0] if last else None,
            last_call_status=last[1] if last else None,
            last_disposition=disposition,
            updated_at=Contact.updated_at,
        )
        .execution_options(synchronize_session=False)
    )
