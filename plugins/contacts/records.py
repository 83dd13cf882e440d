"""A contact's values, cleaned and checked the same way wherever they come from (the API, a CSV
import), and written with the rows that hang off the contact (numbers, e-mails, tags).

:func:`clean` is pure and synchronous, so an import can check thousands of rows without a
round trip each; it collects every problem of a row instead of stopping at the first.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from plugins.contacts.fields import FieldProblem, check_values
from plugins.contacts.models import (
    Contact,
    ContactEmail,
    ContactPhone,
    ContactSettingsRow,
    ContactTag,
    FieldDefinition,
    PhoneType,
)
from plugins.contacts.phones import InvalidNumber, normalize, search_digits

DEFAULT_COUNTRY = "US"
MAX_PHONES = 20
MAX_EMAILS = 20
MAX_TAGS = 50
MAX_TAG_LENGTH = 64

TEXT_LIMITS: dict[str, int] = {
    "name": 200,
    "company": 200,
    "external_id": 128,
    "address_line1": 200,
    "address_line2": 200,
    "city": 100,
    "postal_code": 20,
}
"""Plain text attributes and their longest value."""
SCALARS = (*TEXT_LIMITS, "region", "country", "time_zone", "owner_id")
"""Every single-valued attribute of a contact (what a merge takes when the survivor lacks it)."""
_REGION = re.compile(r"^[A-Z0-9]{1,3}$")
_PHONE_TYPES = {t.value for t in PhoneType}


@dataclass(frozen=True)
class PhoneRecord:
    number: str
    type: str
    label: str
    region: str | None
    time_zones: tuple[str, ...]
    line_type: str | None


@dataclass
class Cleaned:
    """What :func:`clean` made of some values: ``None`` collections were not given."""

    attrs: dict[str, Any] = field(default_factory=dict)
    phones: list[PhoneRecord] | None = None
    emails: list[str] | None = None
    tags: list[str] | None = None
    custom_fields: dict[str, Any] | None = None
    problems: list[FieldProblem] = field(default_factory=list)


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


async def default_country(session: AsyncSession) -> str:
    """The tenant's default country for national numbers (``US`` until it sets one)."""
    value = await session.scalar(select(ContactSettingsRow.default_country))
    return value or DEFAULT_COUNTRY


def clean(
    values: Mapping[str, Any],
    *,
    default_country: str,
    fields: Mapping[str, FieldDefinition],
    partial: bool,
) -> Cleaned:
    """Check and normalise a contact's values; every problem is in ``.problems``."""
    out = Cleaned()
    for name, limit in TEXT_LIMITS.items():
        if name in values:
            text = _text(values[name])
            if len(text) > limit:
                out.problems.append(FieldProblem(name, f"longer than {limit} characters"))
            out.attrs[name] = (text or None) if name == "external_id" else text
    if "country" in values:
        country = _text(values["country"]).upper() or None
        if country is not None and country not in phonenumbers.SUPPORTED_REGIONS:
            out.problems.append(FieldProblem("country", "not an ISO 3166-1 alpha-2 code"))
        out.attrs["country"] = country
    if "region" in values:
        region = _text(values["region"]).upper()
        if "-" in region:  # "US-CA": the country part is the contact's country
            region = region.split("-", 1)[1]
        if region and not _REGION.match(region):
            out.problems.append(FieldProblem("region", "not an ISO 3166-2 subdivision code"))
        out.attrs["region"] = region
    if "time_zone" in values:
        zone = _text(values["time_zone"]) or None
        if zone is not None and zone not in _zones():
            out.problems.append(FieldProblem("time_zone", "not an IANA time zone"))
        out.attrs["time_zone"] = zone
    if "owner_id" in values:
        out.attrs["owner_id"] = _uuid(values["owner_id"], out.problems)
    if values.get("phones") is not None:
        out.phones = _phones(values["phones"], default_country, out.problems)
    if values.get("emails") is not None:
        out.emails = _emails(values["emails"], out.problems)
    if values.get("tags") is not None:
        out.tags = clean_tags(values["tags"], out.problems)
    if values.get("custom_fields") is not None or not partial:
        stored, problems = check_values(values.get("custom_fields") or {}, fields, partial=partial)
        out.custom_fields = stored
        out.problems.extend(problems)
    anything = out.attrs.get("name") or out.attrs.get("company") or out.phones or out.emails
    if not partial and not anything:
        out.problems.append(
            FieldProblem("name", "a contact needs a name, a company, a number or an e-mail")
        )
    return out


def _text(value: Any) -> str:
    if value is None:
        return ""
    return " ".join(str(value).split())


def _uuid(value: Any, problems: list[FieldProblem]) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        problems.append(FieldProblem("owner_id", "not a user id"))
        return None


def _phones(raw: Any, country: str, problems: list[FieldProblem]) -> list[PhoneRecord]:
    items = [raw] if isinstance(raw, str | Mapping) else list(raw)
    if len(items) > MAX_PHONES:
        problems.append(FieldProblem("phones", f"at most {MAX_PHONES} numbers"))
        items = items[:MAX_PHONES]
    records: list[PhoneRecord] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        where = f"phones[{index}]"
        entry = item if isinstance(item, Mapping) else {"number": item}
        text = _text(entry.get("number"))
        if not text:
            continue
        kind = _text(entry.get("type")).lower() or None
        if kind is not None and kind not in _PHONE_TYPES:
            problems.append(FieldProblem(f"{where}.type", f"one of {sorted(_PHONE_TYPES)}"))
            kind = None
        try:
            number = normalize(text, default_country=country)
        except InvalidNumber as exc:
            problems.append(FieldProblem(f"{where}.number", str(exc)))
            continue
        if number.e164 in seen:
            continue
        seen.add(number.e164)
        records.append(
            PhoneRecord(
                number=number.e164,
                type=kind or ("mobile" if number.line_type == "mobile" else PhoneType.OTHER),
                label=_text(entry.get("label"))[:64],
                region=number.region,
                time_zones=number.time_zones,
                line_type=number.line_type,
            )
        )
    return records


def _emails(raw: Any, problems: list[FieldProblem]) -> list[str]:
    items = [raw] if isinstance(raw, str) else list(raw)
    if len(items) > MAX_EMAILS:
        problems.append(FieldProblem("emails", f"at most {MAX_EMAILS} addresses"))
        items = items[:MAX_EMAILS]
    emails: list[str] = []
    for index, item in enumerate(items):
        text = _text(item)
        if not text:
            continue
        try:
            address = validate_email(text, check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            problems.append(FieldProblem(f"emails[{index}]", "not an e-mail address"))
            continue
        if len(address) > 254:
            problems.append(FieldProblem(f"emails[{index}]", "longer than 254 characters"))
        elif address not in emails:
            emails.append(address)
    return emails


def clean_tags(raw: Any, problems: list[FieldProblem]) -> list[str]:
    """Tags trimmed and lower-cased, each once, in the order given."""
    items = [raw] if isinstance(raw, str) else list(raw)
    tags: list[str] = []
    for index, item in enumerate(items):
        tag = _text(item).lower()
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            problems.append(FieldProblem(f"tags[{index}]", f"longer than {MAX_TAG_LENGTH}"))
        elif tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        problems.append(FieldProblem("tags", f"at most {MAX_TAGS} tags"))
        tags = tags[:MAX_TAGS]
    return tags


def apply(contact: Contact, cleaned: Cleaned) -> list[str]:
    """Set what ``cleaned`` holds on ``contact``; the names of the fields that changed."""
    changed: list[str] = []
    for name, value in cleaned.attrs.items():
        if getattr(contact, name) != value:
            setattr(contact, name, value)
            changed.append(name)
    if cleaned.tags is not None and list(contact.tags or []) != cleaned.tags:
        contact.tags = list(cleaned.tags)
        changed.append("tags")
    if cleaned.custom_fields is not None:
        merged = dict(contact.custom_fields or {})
        for key, value in cleaned.custom_fields.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        if merged != (contact.custom_fields or {}):
            contact.custom_fields = merged
            changed.append("custom_fields")
    return changed


def search_text(contact: Contact, numbers: Iterable[str], emails: Iterable[str]) -> str:
    """What the ``q`` filter searches: lower-case words, and numbers as digits only."""
    parts = [contact.name, contact.company, contact.external_id or ""]
    parts += [search_digits(n) for n in numbers]
    parts += list(emails)
    return " ".join(p.lower() for p in parts if p)[:4000]


def phone_rows(
    tenant_id: uuid.UUID, contact_id: uuid.UUID, phones: Sequence[PhoneRecord]
) -> list[ContactPhone]:
    return [
        ContactPhone(
            tenant_id=tenant_id,
            contact_id=contact_id,
            number=p.number,
            type=str(p.type),
            label=p.label,
            position=i,
            number_region=p.region,
            time_zones=list(p.time_zones),
            line_type=p.line_type,
        )
        for i, p in enumerate(phones)
    ]


async def write_children(
    session: AsyncSession, contact: Contact, cleaned: Cleaned, *, new: bool
) -> None:
    """Replace the numbers, e-mails and tag rows ``cleaned`` holds, and the search text.

    ``contact`` must have its id and tenant; a ``new`` contact has no rows to delete.
    """
    tenant_id, contact_id = contact.tenant_id, contact.id
    if cleaned.phones is not None:
        if not new:
            await session.execute(delete(ContactPhone).where(ContactPhone.contact_id == contact_id))
        session.add_all(phone_rows(tenant_id, contact_id, cleaned.phones))
    if cleaned.emails is not None:
        if not new:
            await session.execute(delete(ContactEmail).where(ContactEmail.contact_id == contact_id))
        session.add_all(
            ContactEmail(tenant_id=tenant_id, contact_id=contact_id, email=e, position=i)
            for i, e in enumerate(cleaned.emails)
        )
    if cleaned.tags is not None:
        if not new:
            await session.execute(delete(ContactTag).where(ContactTag.contact_id == contact_id))
        session.add_all(
            ContactTag(tenant_id=tenant_id, contact_id=contact_id, tag=t) for t in cleaned.tags
        )
    numbers = (
        [p.number for p in cleaned.phones]
        if cleaned.phones is not None
        else await contact_numbers(session, contact_id)
    )
    emails = (
        cleaned.emails if cleaned.emails is not None else await contact_emails(session, contact_id)
    )
    contact.search_text = search_text(contact, numbers, emails)


async def contact_numbers(session: AsyncSession, contact_id: uuid.UUID) -> list[str]:
    """The contact's E.164 numbers, primary first."""
    rows = await session.scalars(
        select(ContactPhone.number)
        .where(ContactPhone.contact_id == contact_id)
        .order_by(ContactPhone.position)
    )
    return list(rows)


async def contact_emails(session: AsyncSession, contact_id: uuid.UUID) -> list[str]:
    rows = await session.scalars(
        select(ContactEmail.email)
        .where(ContactEmail.contact_id == contact_id)
        .order_by(ContactEmail.position)
    )
    return list(rows)


async def phones_of(
    session: AsyncSession, contact_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[ContactPhone]]:
    """Numbers of several contacts at once (a list page), primary first."""
    found: dict[uuid.UUID, list[ContactPhone]] = {cid: [] for cid in contact_ids}
    if contact_ids:
        rows = await session.scalars(
            select(ContactPhone)
            .where(ContactPhone.contact_id.in_(contact_ids))
            .order_by(ContactPhone.contact_id, ContactPhone.position)
        )
        for row in rows:
            found[row.contact_id].append(row)
    return found


async def emails_of(
    session: AsyncSession, contact_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    found: dict[uuid.UUID, list[str]] = {cid: [] for cid in contact_ids}
    if contact_ids:
        rows = await session.execute(
            select(ContactEmail.contact_id, ContactEmail.email)
            .where(ContactEmail.contact_id.in_(contact_ids))
            .order_by(ContactEmail.contact_id, ContactEmail.position)
        )
        for contact_id, email in rows:
            found[contact_id].append(email)
    return found
