"""Shared by the compliance tests (imported by name: test directories are not packages)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx

from kernel import Platform, tenant_scope
from kernel.testing import DEFAULT_TEST_PASSWORD, login
from plugins.contacts import CallableDecision, is_callable
from plugins.contacts.compliance.hashing import keep_erased_numbers

DNC = "/api/v1/contacts/dnc"
SETTINGS = "/api/v1/contacts/compliance-settings"


def contact_url(contact_id: uuid.UUID | str, rest: str = "") -> str:
    return f"/api/v1/contacts/{contact_id}{rest}"


async def make_contact(
    client: httpx.AsyncClient, headers: dict[str, str], *numbers: str
) -> uuid.UUID:
    """A contact with these numbers, created through the contacts API."""
    created = await client.post(
        "/api/v1/contacts", json={"name": "Jane Roe", "phones": list(numbers)}, headers=headers
    )
    assert created.status_code == 201, created.text
    return uuid.UUID(created.json()["id"])


async def decide(
    platform: Platform,
    tenant_id: uuid.UUID,
    number: str,
    purpose: str = "informational",
    channel: str = "voice_call",
    *,
    contact_id: uuid.UUID | None = None,
    at: datetime | None = None,
) -> CallableDecision:
    """``is_callable`` as a dialer calls it: a session in the tenant's scope, no platform."""
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            return await is_callable(
                session,
                number=number,
                purpose=purpose,
                channel=channel,
                contact_id=contact_id,
                at=at,
            )


async def erase_numbers(platform: Platform, tenant_id: uuid.UUID, *numbers: str) -> None:
    """What the erasure does with the do-not-call list and the ledger."""
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            await keep_erased_numbers(platform, session, numbers)
            await session.commit()


async def user_headers(
    client: httpx.AsyncClient, make_user: Any, tenant_id: uuid.UUID, slug: str, role: str
) -> dict[str, str]:
    """Log in a new user of the tenant holding only ``role``."""
    email = f"{role}-{uuid.uuid4().hex[:6]}@{slug}.example.com"
    await make_user(tenant_id, email, roles=[role])
    return await login(client, email, DEFAULT_TEST_PASSWORD, tenant=slug)


async def add_dnc(
    client: httpx.AsyncClient, headers: dict[str, str], value: str, **fields: Any
) -> dict[str, Any]:
    response = await client.post(DNC, json={"value": value, **fields}, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def record_consent(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    contact_id: uuid.UUID,
    purpose: str,
    channel: str,
    action: str,
    **fields: Any,
) -> dict[str, Any]:
    body = {"purpose": purpose, "channel": channel, "action": action, "source": "agent", **fields}
    response = await client.post(contact_url(contact_id, "/consents"), json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())
