"""Seeds the contacts plugin's core tables for the cross-tenant route walk: settings, a custom
field, and contacts with numbers, e-mails and tags (one merged into another)."""

from __future__ import annotations

from typing import Any

BASE = "/api/v1/contacts"


async def seed(client: Any, tenant: Any) -> None:
    """Rows of every core table for ``tenant`` (``.headers``, ``.slug``, ``.secrets``)."""
    h = tenant.headers
    digits = {"alpha": "31", "beta": "42"}.get(tenant.slug, "53")
    number = f"+1415555{digits}00"
    tenant.secrets.add(number)
    tenant.secrets.add(f"person-{tenant.slug}@example.com")
    setup = [
        ("PUT", f"{BASE}/settings", {"default_country": "US"}),
        ("POST", f"{BASE}/fields", {"key": f"plan_{tenant.slug}", "type": "text"}),
    ]
    for method, path, body in setup:
        response = await client.request(method, path, headers=h, json=body)
        assert response.status_code in (200, 201), (path, response.text)
    ids = []
    for name in (f"Person {tenant.slug}", f"Duplicate {tenant.slug}"):
        created = await client.post(
            BASE,
            headers=h,
            json={
                "name": name,
                "phones": [number],
                "emails": [f"person-{tenant.slug}@example.com"],
                "tags": [f"tag-{tenant.slug}"],
                "custom_fields": {f"plan_{tenant.slug}": "gold"},
            },
        )
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    merged = await client.post(f"{BASE}/{ids[0]}/merge", headers=h, json={"other_id": ids[1]})
    assert merged.status_code == 200, merged.text
