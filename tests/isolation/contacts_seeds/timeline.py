"""Seeds the contacts plugin's timeline tables for the cross-tenant route walk: a contact
whose number the walk's calls reach, so another call to it joins its timeline (an
interaction), and a throwaway contact erased to the end (an erasure)."""

from __future__ import annotations

import asyncio
from typing import Any

BASE = "/api/v1/contacts"
CALLED = "+14155550100"
"""The number the walk's calls seed calls (``_seed_calls``)."""


async def seed(client: Any, tenant: Any) -> None:
    """Rows of every timeline table for ``tenant`` (``.headers``, ``.slug``, ``.secrets``)."""
    h = tenant.headers
    digits = {"alpha": "61", "beta": "72"}.get(tenant.slug, "83")
    throwaway = f"+1415555{digits}00"
    tenant.secrets.add(throwaway)
    ids = []
    for name, number in ((f"Callee {tenant.slug}", CALLED), (f"Gone {tenant.slug}", throwaway)):
        created = await client.post(BASE, headers=h, json={"name": name, "phones": [number]})
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    # A call placed after the contact exists joins its timeline once its events are delivered.
    placed = await client.post("/api/v1/calls", headers=h, json={"to": CALLED})
    assert placed.status_code == 201, placed.text
    erased = await client.post(f"{BASE}/{ids[1]}/erase", headers=h)
    assert erased.status_code == 202, erased.text
    async with asyncio.timeout(20):
        while True:
            drained = await client.post("/api/v1/walkvault/events", headers=h)
            assert drained.status_code == 200, drained.text
            status = await client.get(erased.headers["Location"], headers=h)
            assert status.status_code == 200, status.text
            timeline = await client.get(f"{BASE}/{ids[0]}/timeline", headers=h)
            assert timeline.status_code == 200, timeline.text
            if status.json()["status"] == "completed" and timeline.json()["items"]:
                break
            await asyncio.sleep(0.05)
    # What the erasure published, dispatched now: the walk finds the outbox at rest.
    drained = await client.post("/api/v1/walkvault/events", headers=h)
    assert drained.status_code == 200, drained.text
