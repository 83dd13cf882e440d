"""Seeds the contacts plugin's imports tables for the cross-tenant route walk: an upload left
``uploaded`` (its file kept in pieces), a finished dry run with an error row, a saved
mapping."""

from __future__ import annotations

import asyncio
from typing import Any

IMPORTS = "/api/v1/contacts/imports"


async def seed(client: Any, tenant: Any) -> None:
    """Rows of every imports table for ``tenant`` (``.headers``, ``.slug``, ``.secrets``)."""
    h = tenant.headers
    name = f"Importee {tenant.slug}"
    tenant.secrets.add(name)
    content = f"Name,Phone\n{name},+12125550{len(tenant.slug):03d}\nBroken {tenant.slug},12\n"
    uploads = []
    for filename in (f"kept-{tenant.slug}.csv", f"dry-{tenant.slug}.csv"):
        uploaded = await client.post(
            IMPORTS, headers=h, files={"file": (filename, content.encode(), "text/csv")}
        )
        assert uploaded.status_code == 201, uploaded.text
        uploads.append(uploaded.json()["id"])
    started = await client.post(f"{IMPORTS}/{uploads[1]}/start", headers=h, json={"dry_run": True})
    assert started.status_code == 202, started.text
    async with asyncio.timeout(20):
        while True:  # the app's job worker runs it
            state = (await client.get(f"{IMPORTS}/{uploads[1]}", headers=h)).json()
            if state["status"] == "completed":
                break
            assert state["status"] in ("queued", "running"), state
            await asyncio.sleep(0.05)
    assert state["failed"] == 1, state
    saved = await client.post(
        f"{IMPORTS}/mappings",
        headers=h,
        json={"name": f"mapping-{tenant.slug}", "mapping": {"Name": "name", "Phone": "phones"}},
    )
    assert saved.status_code == 201, saved.text
