"""What the import tests share: an app whose background workers are off (each test drives
the import job itself), uploads, and running an import to its end."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from kernel import tenant_scope
from plugins.contacts.models import Contact, ContactEmail, ContactPhone, ContactTag

IMPORTS = "/api/v1/contacts/imports"
FINISHED = {"completed", "failed", "cancelled"}


@pytest.fixture
def import_settings() -> dict[str, Any]:
    """``KRALIKI_CONTACTS_<NAME>`` values for the app; parametrize it to change them."""
    return {}


@pytest.fixture
async def kraliki_app(kraliki_make_app, import_settings, monkeypatch):
    for name, value in import_settings.items():
        monkeypatch.setenv(f"KRALIKI_CONTACTS_{name.upper()}", str(value))
    return await kraliki_make_app(background_workers=False)


@pytest.fixture
def platform(kraliki_app):
    return kraliki_app.state.platform


@pytest.fixture
async def owner(kraliki_make_owner):
    return await kraliki_make_owner("acme")


FIXTURES = (kraliki_app, platform, owner, import_settings)
"""For test modules: ``kraliki_app, platform, owner, import_settings = FIXTURES``."""


def csv_bytes(*rows: str, encoding: str = "utf-8", newline: str = "\n") -> bytes:
    return (newline.join(rows) + newline).encode(encoding)


async def upload(
    client: httpx.AsyncClient, headers: dict[str, str], content: bytes, name: str = "people.csv"
) -> httpx.Response:
    return await client.post(IMPORTS, headers=headers, files={"file": (name, content, "text/csv")})


async def drive(
    platform: Any, client: httpx.AsyncClient, headers: dict[str, str], import_id: str
) -> dict[str, Any]:
    """Run the import job until the import ended; its final state."""
    for _ in range(1000):
        await platform.jobs.run_due(platform)
        state = (await client.get(f"{IMPORTS}/{import_id}", headers=headers)).json()
        if state["status"] in FINISHED:
            return state
    raise AssertionError(f"import {import_id} did not end: {state}")


async def import_file(
    platform: Any,
    client: httpx.AsyncClient,
    headers: dict[str, str],
    content: bytes,
    **start: Any,
) -> dict[str, Any]:
    """Upload, start (``start`` is the body) and run an import; its final state."""
    uploaded = await upload(client, headers, content)
    assert uploaded.status_code == 201, uploaded.text
    import_id = uploaded.json()["id"]
    started = await client.post(f"{IMPORTS}/{import_id}/start", headers=headers, json=start)
    assert started.status_code == 202, started.text
    return await drive(platform, client, headers, import_id)


async def errors(
    client: httpx.AsyncClient, headers: dict[str, str], import_id: str
) -> list[tuple[int, str, str]]:
    found: list[tuple[int, str, str]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 200}
        if cursor:
            params["cursor"] = cursor
        page = (
            await client.get(f"{IMPORTS}/{import_id}/errors", headers=headers, params=params)
        ).json()
        found += [(e["row"], e["column"], e["reason"]) for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            return found


async def contacts(platform: Any, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    """The tenant's contacts with their numbers, e-mails and tag rows, oldest first."""
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            people = list(
                await session.scalars(select(Contact).order_by(Contact.created_at, Contact.name))
            )
            phones = list(
                await session.scalars(select(ContactPhone).order_by(ContactPhone.position))
            )
            emails = list(
                await session.scalars(select(ContactEmail).order_by(ContactEmail.position))
            )
            tags = list(await session.scalars(select(ContactTag).order_by(ContactTag.tag)))
    out = []
    for c in people:
        out.append(
            {
                "id": c.id,
                "name": c.name,
                "company": c.company,
                "external_id": c.external_id,
                "country": c.country,
                "custom_fields": c.custom_fields,
                "tags": c.tags,
                "tag_rows": [t.tag for t in tags if t.contact_id == c.id],
                "phones": [p.number for p in phones if p.contact_id == c.id],
                "phone_types": [p.type for p in phones if p.contact_id == c.id],
                "emails": [e.email for e in emails if e.contact_id == c.id],
                "search_text": c.search_text,
                "version": c.version,
            }
        )
    return out
