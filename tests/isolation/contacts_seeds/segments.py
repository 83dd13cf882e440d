"""Seeds the contacts plugin's segments tables for the cross-tenant route walk."""

from __future__ import annotations

from typing import Any

SEGMENTS = "/api/v1/contacts/segments"


async def seed(client: Any, tenant: Any) -> None:
    """Rows of every segments table for ``tenant`` (``.headers``, ``.slug``, ``.secrets``):
    a dynamic segment, and a static one holding one of the core seed's contacts."""
    h = tenant.headers
    dynamic = await client.post(
        SEGMENTS,
        headers=h,
        json={"name": f"Tagged {tenant.slug}", "filter": {"tags_any": [f"tag-{tenant.slug}"]}},
    )
    assert dynamic.status_code == 201, dynamic.text
    static = await client.post(
        SEGMENTS, headers=h, json={"name": f"Picked {tenant.slug}", "kind": "static"}
    )
    assert static.status_code == 201, static.text
    contacts = await client.get("/api/v1/contacts", headers=h, params={"limit": 1})
    assert contacts.status_code == 200, contacts.text
    [contact] = contacts.json()["items"]
    added = await client.post(
        f"{SEGMENTS}/{static.json()['id']}/members",
        headers=h,
        json={"contact_ids": [contact["id"]]},
    )
    assert added.status_code == 200, added.text
