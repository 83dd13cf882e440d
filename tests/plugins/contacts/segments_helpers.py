"""Fixtures and row makers for the filter and segment tests.

Contacts are written with the ORM (what the core's records code would store: lower-cased
``search_text``, tag rows, normalised numbers), so these tests do not depend on the
contacts CRUD routes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from kernel import Platform, tenant_scope
from kernel.testing import TenantOwner, login
from plugins.contacts.models import Contact, ContactPhone, ContactTag, FieldDefinition

NOW = datetime.now(UTC).replace(microsecond=0)
SEGMENTS = "/api/v1/contacts/segments"


def days_ago(days: int) -> datetime:
    return NOW - timedelta(days=days)


async def add_contact(
    platform: Platform,
    tenant_id: uuid.UUID,
    *,
    name: str,
    company: str = "",
    emails: Sequence[str] = (),
    tags: Iterable[str] = (),
    numbers: Sequence[tuple[str, str]] = (),
    **columns: Any,
) -> uuid.UUID:
    """A contact with its tags and numbers (``(e164, region)`` pairs); ``columns`` sets any
    other column of :class:`Contact`."""
    tags = list(tags)
    digits = [number.lstrip("+") for number, _ in numbers]
    search_text = " ".join(part.lower() for part in (name, company, *emails, *digits) if part)
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            contact = Contact(
                name=name, company=company, search_text=search_text, tags=tags, **columns
            )
            session.add(contact)
            await session.flush()
            for tag in tags:
                session.add(ContactTag(contact_id=contact.id, tag=tag))
            for position, (number, region) in enumerate(numbers):
                session.add(
                    ContactPhone(
                        contact_id=contact.id,
                        number=number,
                        number_region=region,
                        position=position,
                    )
                )
            await session.commit()
            return contact.id


async def add_field(
    platform: Platform,
    tenant_id: uuid.UUID,
    key: str,
    type_: str,
    choices: Sequence[str] = (),
) -> None:
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            session.add(FieldDefinition(key=key, label=key, type=type_, choices=list(choices)))
            await session.commit()


@dataclass
class World:
    """Tenant A's contacts by first name (lower case), tenant B's, and who owns ``ann``."""

    a: TenantOwner
    b: TenantOwner
    ids: dict[str, uuid.UUID]
    b_ids: dict[str, uuid.UUID]
    owner_id: uuid.UUID

    def names(self, ids: Iterable[str]) -> set[str]:
        by_id = {str(v): k for k, v in {**self.ids, **self.b_ids}.items()}
        return {by_id.get(i, i) for i in ids}


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


async def build_world(platform: Platform, make_owner: Any) -> World:
    """Four visible contacts in A (ann, bob, cid, dee), a merged and an erased one, the
    custom fields plan (choice), score (number), renew (date), note (text); one in B."""
    a = await make_owner("alpha")
    b = await make_owner("beta")
    t = a.tenant_id
    await add_field(platform, t, "plan", "choice", ["gold", "silver", "bronze"])
    await add_field(platform, t, "score", "number")
    await add_field(platform, t, "renew", "date")
    await add_field(platform, t, "note", "text")
    owner_id = uuid.uuid4()
    ids = {
        "ann": await add_contact(
            platform,
            t,
            name="Ann Lee",
            company="Acme",
            emails=["ann@acme.example"],
            tags=["vip", "east"],
            numbers=[("+14155550101", "US")],
            country="US",
            region="CA",
            custom_fields={"plan": "gold", "score": 10, "renew": "2026-03-01"},
            owner_id=owner_id,
            last_call_at=days_ago(40),
            last_call_status="completed",
            last_disposition="callback",
            call_count=3,
            created_at=at("2026-01-01"),
            updated_at=at("2026-01-10"),
        ),
        "bob": await add_contact(
            platform,
            t,
            name="Bob Stone",
            company="Globex",
            tags=["east"],
            numbers=[("+442071234567", "GB")],
            country="US",
            region="NY",
            custom_fields={"plan": "silver", "score": 5},
            last_call_at=days_ago(5),
            last_call_status="completed",
            last_disposition="sale",
            call_count=1,
            created_at=at("2026-02-01"),
            updated_at=at("2026-02-10"),
        ),
        "cid": await add_contact(
            platform,
            t,
            name="Cid Moreau",
            country="FR",
            region="IDF",
            custom_fields={"note": "Likes 100% cotton", "score": "n/a"},
            created_at=at("2026-03-01"),
            updated_at=at("2026-03-10"),
        ),
        "dee": await add_contact(
            platform,
            t,
            name="Dee Park",
            tags=["vip"],
            numbers=[("+16135550123", "CA"), ("+14155550199", "US")],
            country="CA",
            region="ON",
            custom_fields={
                "plan": "Gold",
                "score": 7.5,
                "renew": "2026-01-15",
                "note": "ŽLUŤOUČKÝ kůň",
            },
            last_call_at=days_ago(100),
            last_call_status="no-answer",
            call_count=2,
            created_at=at("2026-04-01"),
            updated_at=at("2026-04-10"),
        ),
    }
    ids["mia"] = await add_contact(
        platform,
        t,
        name="Mia Merged",
        tags=["vip"],
        numbers=[("+14155550111", "US")],
        merged_into_id=ids["ann"],
    )
    ids["eve"] = await add_contact(
        platform, t, name="Eve Erased", tags=["vip"], erased_at=days_ago(1)
    )
    b_ids = {
        "bea": await add_contact(
            platform,
            b.tenant_id,
            name="Ann Lee",
            company="Acme",
            tags=["vip", "east"],
            numbers=[("+14155550101", "US")],
            country="US",
            region="CA",
        )
    }
    return World(a, b, ids, b_ids, owner_id)


async def preview(client: httpx.AsyncClient, owner: TenantOwner, **criteria: Any) -> set[str]:
    """The ids (as strings) of the contacts a filter selects, through the preview route."""
    response = await client.post(
        f"{SEGMENTS}/preview?limit=200", headers=owner.headers, json={"filter": criteria}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == len(body["items"])
    return {item["id"] for item in body["items"]}


async def agent_headers(
    client: httpx.AsyncClient, make_user: Any, owner: TenantOwner
) -> dict[str, str]:
    email = f"agent@{owner.slug}.example.com"
    await make_user(owner.tenant_id, email, roles=["agent"])
    return await login(client, email, tenant=owner.slug)
