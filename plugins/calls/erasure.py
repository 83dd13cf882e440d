"""Erasure of a contact (``kraliki_contact_erased``, declared by the contacts plugin, which
calls does not require): what calls keep about the contact's numbers is removed, or replaced
by the contact's pseudonym where a value must remain. See ``docs/plugins/calls.md``,
"Erasure".

Everything is written through the erasure's session and never committed: the erasure commits
it with every other plugin's part, or retries it all. Running it again changes nothing more.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, String, cast, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, utcnow
from plugins.calls import service
from plugins.calls.models import Call, CallEvent, Recording, TranscriptSegmentRow, WebhookReceipt
from plugins.calls.recordings import delete_recording

CHUNK = 200
"""Ids (or strings searched for) per statement."""

ERASED = "erased"
"""The timeline entry a call gets when its contact's number is replaced."""

T = TypeVar("T")


def _chunks(values: Sequence[T]) -> Iterable[Sequence[T]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def spellings(numbers: Sequence[str]) -> list[str]:
    """How the numbers may be written in what providers sent: E.164, and its digits alone
    (some payloads drop the ``+``)."""
    found: dict[str, None] = {}
    for number in numbers:
        if not number:
            continue
        found[number] = None
        digits = re.sub(r"\D", "", number)
        if len(digits) >= 7:
            found[digits] = None
    # Longest first, so the E.164 form is replaced whole rather than leaving its "+".
    return sorted(found, key=len, reverse=True)


def scrub(value: Any, needles: Sequence[str], pseudonym: str) -> Any:
    """``value`` (JSON) with every occurrence of ``needles`` in its strings (keys too)
    replaced by ``pseudonym``."""
    if isinstance(value, str):
        for needle in needles:
            value = value.replace(needle, pseudonym)
        return value
    if isinstance(value, dict):
        return {
            scrub(k, needles, pseudonym): scrub(v, needles, pseudonym) for k, v in value.items()
        }
    if isinstance(value, list):
        return [scrub(item, needles, pseudonym) for item in value]
    return value


def _mentions(column: Any, needles: Sequence[str]) -> ColumnElement[bool]:
    """The JSON ``column``'s text holds one of ``needles`` (PostgreSQL and SQLite alike)."""
    text = cast(column, String)
    return or_(*(text.contains(needle, autoescape=True) for needle in needles))


async def erase_contact(
    platform: Platform,
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    numbers: Sequence[str],
    pseudonym: str,
) -> int:
    """Erase the tenant's calls from or to ``numbers`` (and those already pseudonymised, so a
    retry finishes a part done before), with the legs transferred from them. Returns how
    many calls were erased. Raises when a recording's provider does not answer: its audio
    must be gone before the erasure counts as done."""
    needles = spellings(numbers)
    calls = await _calls(session, tenant_id, [*numbers, pseudonym])
    ids = [call.id for call in calls]
    for call in calls:
        _erase_call(session, call, numbers, pseudonym)
    for chunk in _chunks(ids):
        await session.execute(
            delete(TranscriptSegmentRow)
            .where(TranscriptSegmentRow.tenant_id == tenant_id)
            .where(TranscriptSegmentRow.call_id.in_(chunk))
            .execution_options(synchronize_session=False)
        )
    await _erase_recordings(platform, session, tenant_id, ids)
    await _scrub_timelines(session, tenant_id, ids, needles, pseudonym)
    await _scrub_receipts(session, tenant_id, calls, needles, pseudonym)
    await session.flush()
    return len(calls)


async def _calls(session: AsyncSession, tenant_id: uuid.UUID, known: Sequence[str]) -> list[Call]:
    """The calls from or to ``known``, then the legs transferred from those (and so on)."""
    wanted = [number for number in dict.fromkeys(known) if number]
    found: dict[uuid.UUID, Call] = {}
    for some in _chunks(wanted):
        for call in await session.scalars(
            select(Call)
            .where(Call.tenant_id == tenant_id)
            .where(or_(Call.from_number.in_(some), Call.to_number.in_(some)))
            .with_for_update()
        ):
            found[call.id] = call
    parents = list(found)
    while parents:
        legs: list[Call] = []
        for chunk in _chunks(parents):
            legs.extend(
                await session.scalars(
                    select(Call)
                    .where(Call.tenant_id == tenant_id)
                    .where(Call.parent_call_id.in_(chunk))
                    .with_for_update()
                )
            )
        parents = [leg.id for leg in legs if leg.id not in found]
        found.update((leg.id, leg) for leg in legs)
    return list(found.values())


def _erase_call(session: AsyncSession, call: Call, numbers: Sequence[str], pseudonym: str) -> None:
    replaced = False
    if call.from_number in numbers:
        call.from_number, replaced = pseudonym, True
    if call.to_number in numbers:
        call.to_number, replaced = pseudonym, True
    personal = bool(call.notes or call.attributes or call.instructions)
    call.notes = ""
    call.attributes = {}
    call.instructions = []  # what was said to the contact (templated texts, numbers dialled)
    if replaced or personal:
        call.updated_at = utcnow()
    if replaced:
        service.note(session, call, ERASED, source="platform")


async def _erase_recordings(
    platform: Platform, session: AsyncSession, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> None:
    for chunk in _chunks(ids):
        recordings = await session.scalars(
            select(Recording)
            .where(Recording.tenant_id == tenant_id)
            .where(Recording.call_id.in_(chunk), Recording.deleted_at.is_(None))
            .with_for_update()
        )
        for recording in list(recordings):
            await delete_recording(platform, session, recording, reason=ERASED, strict=True)


async def _scrub_timelines(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    ids: Sequence[uuid.UUID],
    needles: Sequence[str],
    pseudonym: str,
) -> None:
    """The erased calls' timelines, and any other call's entry naming a number (a transfer
    to it): the numbers become the pseudonym."""
    entries: dict[uuid.UUID, CallEvent] = {}
    for chunk in _chunks(ids):
        for entry in await session.scalars(
            select(CallEvent)
            .where(CallEvent.tenant_id == tenant_id)
            .where(CallEvent.call_id.in_(chunk))
        ):
            entries[entry.id] = entry
    for some in _chunks(needles):
        for entry in await session.scalars(
            select(CallEvent)
            .where(CallEvent.tenant_id == tenant_id)
            .where(_mentions(CallEvent.detail, some))
        ):
            entries[entry.id] = entry
    for entry in entries.values():
        detail = scrub(entry.detail or {}, needles, pseudonym)
        if detail != entry.detail:
            entry.detail = detail


async def _scrub_receipts(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    calls: Sequence[Call],
    needles: Sequence[str],
    pseudonym: str,
) -> None:
    """The provider webhooks kept about the erased calls or naming a number: emptied (their
    payload and events could be applied again, and were the caller's words and digits), kept
    as a trace so that a redelivery is still recognised."""
    about = [
        *needles,
        *(str(call.id) for call in calls),
        *(call.provider_call_id for call in calls if call.provider_call_id),
    ]
    receipts: dict[uuid.UUID, WebhookReceipt] = {}
    for chunk in _chunks(about):
        for receipt in await session.scalars(
            select(WebhookReceipt)
            .where(WebhookReceipt.tenant_id == tenant_id)
            .where(
                or_(
                    _mentions(WebhookReceipt.payload, chunk),
                    _mentions(WebhookReceipt.events, chunk),
                )
            )
            .with_for_update()
        ):
            receipts[receipt.id] = receipt
    for receipt in receipts.values():
        hint = (receipt.events or {}).get("call")
        receipt.payload = {}
        receipt.events = {"call": hint, "items": [], "pending": []}
        if receipt.outcome in ("orphan", "failed"):
            receipt.outcome, receipt.error = "processed", None  # nothing left to apply
        elif receipt.error:
            receipt.error = scrub(receipt.error, needles, pseudonym)[:500]
        receipt.answer_type = receipt.answer_body = None
