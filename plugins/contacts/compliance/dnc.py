"""The organization's do-not-call list: numbers (E.164) and prefixes (``+1900``).

Adding is idempotent: a number or prefix already listed (and not expired) is answered with
its entry, unchanged; an expired entry is renewed with the new reason and expiry.
"""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, utcnow
from plugins.contacts.events import DncAdded, DncRemoved
from plugins.contacts.models import DncEntry
from plugins.contacts.phones import InvalidNumber, normalize

PREFIX = re.compile(r"^\+[0-9]{1,15}$")


class DncKind(enum.StrEnum):
    NUMBER = "number"
    PREFIX = "prefix"


class DncSource(enum.StrEnum):
    API = "api"
    IMPORT = "import"
    IVR = "ivr"
    AGENT = "agent"
    ERASURE = "erasure"


class InvalidDncValueError(ValueError):
    """Not a number or not a prefix; the message says why without quoting it."""


class EntryNotFoundError(LookupError):
    pass


def parse_value(kind: str, text: str, *, default_country: str) -> str:
    """The stored value: E.164 for a number, ``+`` and digits for a prefix."""
    if kind == DncKind.PREFIX:
        compact = re.sub(r"[\s().-]", "", text.strip())
        if not PREFIX.fullmatch(compact):
            raise InvalidDncValueError("a prefix is '+' followed by 1 to 15 digits")
        return compact
    try:
        return normalize(text, default_country=default_country).e164
    except InvalidNumber as exc:
        raise InvalidDncValueError(str(exc)) from None


def active(at: date) -> ColumnElement[bool]:
    """Entries in force on ``at``: no expiry, or one after that day."""
    return or_(DncEntry.expires_on.is_(None), DncEntry.expires_on > at)


def today() -> date:
    return utcnow().date()


@dataclass(frozen=True)
class Added:
    entry: DncEntry
    created: bool
    """False when the number or prefix was listed already (nothing changed)."""


async def find(session: AsyncSession, kind: str, value: str) -> DncEntry | None:
    return await session.scalar(
        select(DncEntry).where(
            DncEntry.kind == kind, DncEntry.value == value, DncEntry.number_hash == ""
        )
    )


async def add_entry(
    platform: Platform,
    session: AsyncSession,
    *,
    kind: str,
    value: str,
    reason: str,
    source: str,
    added_by: str | None,
    expires_on: date | None = None,
) -> Added:
    """List an already parsed ``value``; publishes ``DncAdded`` when something changed.
    The caller commits."""
    existing = await find(session, kind, value)
    if existing is None:
        entry = DncEntry(
            id=uuid.uuid4(),
            kind=kind,
            value=value,
            reason=reason,
            source=source,
            added_by=added_by,
            expires_on=expires_on,
        )
        try:
            async with session.begin_nested():
                session.add(entry)
        except IntegrityError:  # listed meanwhile by another request
            existing = await find(session, kind, value)
            if existing is None:
                raise
            return Added(existing, created=False)
    elif existing.expires_on is not None and existing.expires_on <= today():
        entry = existing
        entry.reason, entry.source, entry.added_by = reason, source, added_by
        entry.expires_on = expires_on
        await session.flush()
    else:
        return Added(existing, created=False)
    await platform.events.publish(
        session, DncAdded(entry_id=entry.id, kind=entry.kind, source=entry.source)
    )
    return Added(entry, created=True)


async def get_entry(session: AsyncSession, entry_id: uuid.UUID) -> DncEntry:
    entry = await session.scalar(select(DncEntry).where(DncEntry.id == entry_id))
    if entry is None:
        raise EntryNotFoundError(entry_id)
    return entry


async def remove_entry(platform: Platform, session: AsyncSession, entry: DncEntry) -> None:
    await session.delete(entry)
    await session.flush()
    await platform.events.publish(
        session, DncRemoved(entry_id=entry.id, kind=entry.kind, source=entry.source)
    )


def list_query(
    *, q: str | None = None, kind: str | None = None, source: str | None = None
) -> Select[DncEntry]:
    """Entries, filtered: ``q`` is the start of a value (``+1415``, digits are enough)."""
    statement = select(DncEntry)
    if q:
        digits = re.sub(r"\D", "", q)
        if digits:
            statement = statement.where(DncEntry.value.startswith("+" + digits, autoescape=True))
    if kind:
        statement = statement.where(DncEntry.kind == kind)
    if source:
        statement = statement.where(DncEntry.source == source)
    return statement


def prefixes_of(e164: str) -> list[str]:
    """Every prefix a DNC entry may have for this number, the number itself included."""
    return [e164[:end] for end in range(2, len(e164) + 1)]


@dataclass(frozen=True)
class DncMatch:
    entry_id: uuid.UUID
    rule: str
    """``dnc-number`` or ``dnc-prefix``."""
    source: str


async def match(
    session: AsyncSession, e164: str, number_hash: str | None, *, at: datetime
) -> DncMatch | None:
    """The entry that keeps ``e164`` from being called, if any: the number itself (or its
    hash, once erased) before the longest listed prefix. One indexed query."""
    wanted = or_(DncEntry.value.in_(prefixes_of(e164)))
    if number_hash is not None:
        wanted = or_(wanted, DncEntry.number_hash == number_hash)
    rows = (
        await session.execute(
            select(DncEntry.id, DncEntry.kind, DncEntry.value, DncEntry.source).where(
                wanted, active(at.date())
            )
        )
    ).all()
    return best([(r.id, r.kind, r.value, r.source) for r in rows], e164)


def best(rows: Iterable[tuple[uuid.UUID, str, str, str]], e164: str) -> DncMatch | None:
    """The number's own entry (by value or hash) first, else the longest prefix."""
    prefix: tuple[int, DncMatch] | None = None
    for entry_id, kind, value, source in rows:
        if kind == DncKind.NUMBER and value in (e164, ""):
            return DncMatch(entry_id, "dnc-number", source)
        longer = prefix is None or len(value) > prefix[0]
        if kind == DncKind.PREFIX and longer:
            prefix = (len(value), DncMatch(entry_id, "dnc-prefix", source))
    return None if prefix is None else prefix[1]
