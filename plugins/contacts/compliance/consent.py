"""The consent ledger: append-only lines "consent granted / revoked for a purpose and a channel",
about a contact (all its numbers, or one) or about a number alone.

Current consent is never stored: it is the newest applicable line (by ``occurred_at``, then
``recorded_at``). A line for purpose ``all`` and channel ``all`` is an opt-out: it applies to
every purpose and channel until a newer grant for one of them.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, utcnow
from plugins.contacts.compliance.settings import ALL, CHANNELS, ComplianceSettings
from plugins.contacts.events import ConsentGranted, ConsentRevoked
from plugins.contacts.models import ConsentRecord, Contact


class Action(enum.StrEnum):
    GRANTED = "granted"
    REVOKED = "revoked"


class ConsentSource(enum.StrEnum):
    WEB_FORM = "web_form"
    IVR = "ivr"
    AGENT = "agent"
    IMPORT = "import"
    API = "api"


class InvalidConsentError(ValueError):
    """Why a line cannot be recorded (no personal data in the message)."""


class ContactNotFoundError(LookupError):
    pass


class NumberNotOfContactError(ValueError):
    pass


async def get_contact(session: AsyncSession, contact_id: uuid.UUID) -> Contact:
    contact = await session.scalar(
        select(Contact).where(Contact.id == contact_id, Contact.erased_at.is_(None))
    )
    if contact is None:
        raise ContactNotFoundError(contact_id)
    return contact


def check_line(
    settings: ComplianceSettings, *, purpose: str, channel: str, action: str, occurred_at: datetime
) -> None:
    if purpose != ALL and settings.purpose(purpose) is None:
        raise InvalidConsentError(f"{purpose!r} is not one of the organization's purposes")
    if channel != ALL and channel not in CHANNELS:
        raise InvalidConsentError(f"{channel!r} is not a channel")
    if action == Action.GRANTED and ALL in (purpose, channel):
        raise InvalidConsentError("consent is granted for one purpose and one channel")
    if occurred_at > utcnow():
        raise InvalidConsentError("occurred_at is in the future")


async def record(
    platform: Platform,
    session: AsyncSession,
    settings: ComplianceSettings,
    *,
    contact_id: uuid.UUID | None,
    number: str,
    purpose: str,
    channel: str,
    action: str,
    source: str,
    evidence: str,
    recorded_by: str | None,
    occurred_at: datetime | None = None,
) -> ConsentRecord:
    """Append one line (already checked: the contact exists, the number is its own) and
    publish ``ConsentGranted`` / ``ConsentRevoked``. The caller commits."""
    now = utcnow()
    occurred = occurred_at or now
    check_line(settings, purpose=purpose, channel=channel, action=action, occurred_at=occurred)
    line = ConsentRecord(
        id=uuid.uuid4(),
        contact_id=contact_id,
        number=number,
        purpose=purpose,
        channel=channel,
        action=action,
        source=source,
        evidence=evidence,
        recorded_by=recorded_by,
        occurred_at=occurred,
        recorded_at=now,
    )
    session.add(line)
    await session.flush()
    event_type = ConsentGranted if action == Action.GRANTED else ConsentRevoked
    await platform.events.publish(
        session,
        event_type(
            record_id=line.id,
            contact_id=contact_id,
            purpose=purpose,
            channel=channel,
            source=source,
        ),
    )
    return line


def contact_lines_query(contact_id: uuid.UUID) -> Select[ConsentRecord]:
    return select(ConsentRecord).where(ConsentRecord.contact_id == contact_id)


def about(contact_id: uuid.UUID | None, numbers: Sequence[str]) -> ColumnElement[bool]:
    """Lines that speak about this contact (all its numbers, or one of ``numbers``) or about
    one of ``numbers`` (whoever recorded them)."""
    if contact_id is None:
        if not numbers:
            raise ValueError("a consent question needs a contact or a number")
        return ConsentRecord.number.in_(numbers)
    of_contact = and_(
        ConsentRecord.contact_id == contact_id, ConsentRecord.number.in_(["", *numbers])
    )
    return or_(of_contact, ConsentRecord.number.in_(numbers)) if numbers else of_contact


NEWEST_FIRST = (
    ConsentRecord.occurred_at.desc(),
    ConsentRecord.recorded_at.desc(),
    ConsentRecord.id.desc(),
)


async def deciding_line(
    session: AsyncSession,
    *,
    contact_id: uuid.UUID | None,
    numbers: Sequence[str],
    purpose: str,
    channel: str,
    at: datetime | None = None,
) -> ConsentRecord | None:
    """The newest line about this purpose and channel (or an opt-out), as of ``at``."""
    statement = select(ConsentRecord).where(
        about(contact_id, numbers),
        ConsentRecord.purpose.in_([purpose, ALL]),
        ConsentRecord.channel.in_([channel, ALL]),
    )
    if at is not None:
        statement = statement.where(ConsentRecord.occurred_at <= at)
    return await session.scalar(statement.order_by(*NEWEST_FIRST).limit(1))


@dataclass(frozen=True)
class ConsentState:
    purpose: str
    channel: str
    required: bool
    """Whether the organization's rules need consent for this purpose on this channel."""
    state: str
    """``granted``, ``revoked`` or ``none`` (no line yet)."""
    opted_out: bool
    """The deciding line is an opt-out (purpose and channel ``all``)."""
    record_id: uuid.UUID | None
    occurred_at: datetime | None


def current_state(
    settings: ComplianceSettings, lines: Iterable[ConsentRecord]
) -> list[ConsentState]:
    """Each purpose x channel, decided by the newest applicable line among ``lines``."""
    ordered = sorted(lines, key=lambda r: (r.occurred_at, r.recorded_at, str(r.id)), reverse=True)
    states = []
    for purpose in settings.purposes:
        for channel in CHANNELS:
            line = next(
                (
                    r
                    for r in ordered
                    if r.purpose in (purpose.name, ALL) and r.channel in (channel, ALL)
                ),
                None,
            )
            states.append(
                ConsentState(
                    purpose=purpose.name,
                    channel=channel,
                    required=purpose.needs_consent(channel),
                    state=line.action if line is not None else "none",
                    opted_out=line is not None and line.purpose == ALL and line.channel == ALL,
                    record_id=line.id if line is not None else None,
                    occurred_at=line.occurred_at if line is not None else None,
                )
            )
    return states


async def lines_about(
    session: AsyncSession, contact_id: uuid.UUID, numbers: Sequence[str]
) -> list[ConsentRecord]:
    """Every line that decides the contact's consent on ``numbers`` (for :func:`current_state`)."""
    return list(await session.scalars(select(ConsentRecord).where(about(contact_id, numbers))))
