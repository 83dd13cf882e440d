"""Segments: saved filters (``dynamic``) and explicit lists (``static``) of contacts.

A segment is evaluated when asked (never materialised): a dynamic one by its filter, a
static one through its member rows. Either way merged and erased contacts drop out. No HTTP
here; routes (``api.py``) and other plugins (``plugins.contacts``) call these.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, false, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import utcnow
from plugins.contacts.filters import ContactFilter, matches_nothing, visible, where
from plugins.contacts.models import Contact, Segment, SegmentMember

MAX_MEMBERS_PER_REQUEST = 1000


class SegmentKind(enum.StrEnum):
    DYNAMIC = "dynamic"
    STATIC = "static"


class SegmentNotFoundError(LookupError):
    """No segment of the current tenant has this id."""


class SegmentExistsError(Exception):
    """The tenant already has a segment of this name."""


class WrongKindError(Exception):
    """Members belong to static segments, filters to dynamic ones."""


class UnknownContactsError(Exception):
    """Ids that name no visible contact of the tenant."""

    def __init__(self, contact_ids: list[uuid.UUID]) -> None:
        super().__init__(f"{len(contact_ids)} unknown contact(s)")
        self.contact_ids = contact_ids


def segment_filter(segment: Segment) -> ContactFilter:
    return ContactFilter.model_validate(segment.filter or {})


async def get_segment(
    session: AsyncSession, segment_id: uuid.UUID, *, for_update: bool = False
) -> Segment:
    statement = select(Segment).where(Segment.id == segment_id)
    if for_update:
        statement = statement.with_for_update()
    segment = await session.scalar(statement)
    if segment is None:
        raise SegmentNotFoundError(str(segment_id))
    return segment


def list_query() -> Select[Any]:
    return select(Segment)


async def _flush_named(session: AsyncSession) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise SegmentExistsError from None


async def create_segment(
    session: AsyncSession,
    *,
    name: str,
    description: str,
    kind: SegmentKind,
    contact_filter: ContactFilter | None,
) -> Segment:
    """Add a segment (the caller validates the filter and commits)."""
    if kind is SegmentKind.STATIC and contact_filter is not None:
        raise WrongKindError("static segments have no filter")
    segment = Segment(
        name=name,
        description=description,
        kind=kind.value,
        filter=(contact_filter or ContactFilter()).to_json() if kind is SegmentKind.DYNAMIC else {},
        version=1,
    )
    session.add(segment)
    await _flush_named(session)
    return segment


async def update_segment(
    session: AsyncSession,
    segment: Segment,
    *,
    name: str | None = None,
    description: str | None = None,
    contact_filter: ContactFilter | None = None,
) -> list[str]:
    """Apply the given changes; returns the names of the fields that changed."""
    changed: list[str] = []
    if contact_filter is not None:
        if segment.kind != SegmentKind.DYNAMIC:
            raise WrongKindError("static segments have no filter")
        stored = contact_filter.to_json()
        if stored != segment.filter:
            segment.filter = stored
            changed.append("filter")
    if name is not None and name != segment.name:
        segment.name = name
        changed.append("name")
    if description is not None and description != segment.description:
        segment.description = description
        changed.append("description")
    if changed:
        segment.version += 1
        await _flush_named(session)
    return changed


async def delete_segment(session: AsyncSession, segment: Segment) -> None:
    await session.execute(delete(SegmentMember).where(SegmentMember.segment_id == segment.id))
    await session.delete(segment)
    await session.flush()


# --- evaluation ---------------------------------------------------------------------------


def member_conditions(
    segment: Segment, *, now: datetime | None = None
) -> list[ColumnElement[bool]]:
    """Conditions on :class:`Contact` true for the segment's contacts (and no others)."""
    if segment.kind == SegmentKind.STATIC:
        membership = (
            select(SegmentMember.contact_id)
            .where(
                SegmentMember.tenant_id == Contact.tenant_id,
                SegmentMember.segment_id == segment.id,
                SegmentMember.contact_id == Contact.id,
            )
            .exists()
        )
        return [*visible(), membership]
    return where_filter(segment_filter(segment), now=now)


def where_filter(
    contact_filter: ContactFilter, *, now: datetime | None = None
) -> list[ColumnElement[bool]]:
    """:func:`where`, short-cut to no rows when the filter contradicts itself."""
    if matches_nothing(contact_filter):
        return [*visible(), false()]
    return where(contact_filter, now=now)


async def count_matching(session: AsyncSession, conditions: Sequence[ColumnElement[bool]]) -> int:
    """One ``COUNT`` over the contacts the conditions select."""
    count = await session.scalar(select(func.count()).select_from(Contact).where(*conditions))
    return int(count or 0)


def contacts_query(conditions: Sequence[ColumnElement[bool]]) -> Select[Any]:
    return select(Contact).where(*conditions)


async def contact_ids(
    session: AsyncSession,
    conditions: Sequence[ColumnElement[bool]],
    *,
    after: uuid.UUID | None = None,
    limit: int = 1000,
) -> list[uuid.UUID]:
    """The ids of matching contacts in id order, ``limit`` at a time after ``after``."""
    statement = select(Contact.id).where(*conditions)
    if after is not None:
        statement = statement.where(Contact.id > after)
    rows = await session.scalars(statement.order_by(Contact.id).limit(limit))
    return list(rows)


# --- static membership ----------------------------------------------------------------------


def _require_static(segment: Segment) -> None:
    if segment.kind != SegmentKind.STATIC:
        raise WrongKindError("members belong to static segments")


async def _bump(session: AsyncSession, segment: Segment) -> None:
    await session.execute(
        update(Segment)
        .where(Segment.id == segment.id)
        .values(version=Segment.version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    await session.refresh(segment)


async def add_members(
    session: AsyncSession, segment: Segment, contact_ids: Sequence[uuid.UUID]
) -> int:
    """Add contacts to a static segment; returns how many were not members yet. Any id that
    is not a visible contact of the tenant fails the whole request (nothing added)."""
    _require_static(segment)
    wanted = list(dict.fromkeys(contact_ids))
    known = set(await session.scalars(select(Contact.id).where(Contact.id.in_(wanted), *visible())))
    unknown = [cid for cid in wanted if cid not in known]
    if unknown:
        raise UnknownContactsError(unknown)
    present = set(
        await session.scalars(
            select(SegmentMember.contact_id).where(
                SegmentMember.segment_id == segment.id, SegmentMember.contact_id.in_(wanted)
            )
        )
    )
    new = [cid for cid in wanted if cid not in present]
    if not new:
        return 0
    now = utcnow()
    try:
        async with session.begin_nested():
            session.add_all(
                SegmentMember(segment_id=segment.id, contact_id=cid, added_at=now) for cid in new
            )
            await session.flush()
    except IntegrityError:
        # Another request added some of them meanwhile: add what is still missing.
        return await add_members(session, segment, new)
    await _bump(session, segment)
    return len(new)


async def remove_members(
    session: AsyncSession, segment: Segment, contact_ids: Sequence[uuid.UUID]
) -> int:
    """Remove contacts from a static segment; ids that are not members are ignored, ids
    that name no contact of the tenant fail the request."""
    _require_static(segment)
    wanted = list(dict.fromkeys(contact_ids))
    known = set(await session.scalars(select(Contact.id).where(Contact.id.in_(wanted))))
    unknown = [cid for cid in wanted if cid not in known]
    if unknown:
        raise UnknownContactsError(unknown)
    result: Any = await session.execute(
        delete(SegmentMember)
        .where(SegmentMember.segment_id == segment.id, SegmentMember.contact_id.in_(wanted))
        .execution_options(synchronize_session=False)
    )
    removed = int(result.rowcount or 0)
    if removed:
        await _bump(session, segment)
    return removed


# --- for other plugins (``plugins.contacts``) -------------------------------------------------


async def segment_contact_ids(
    session: AsyncSession,
    segment_id: uuid.UUID,
    *,
    after: uuid.UUID | None = None,
    limit: int = 1000,
) -> list[uuid.UUID]:
    """The ids of the segment's contacts now, in id order: ``limit`` of them after
    ``after`` (pass the last id of the previous chunk). Raises SegmentNotFoundError."""
    segment = await get_segment(session, segment_id)
    return await contact_ids(session, member_conditions(segment), after=after, limit=limit)


async def count_segment(session: AsyncSession, segment_id: uuid.UUID) -> int:
    """How many contacts the segment holds now (one ``COUNT``). Raises
    SegmentNotFoundError."""
    segment = await get_segment(session, segment_id)
    return await count_matching(session, member_conditions(segment))
