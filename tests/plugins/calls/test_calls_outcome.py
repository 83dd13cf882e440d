"""``set_call_outcome``: another plugin (an agent's wrap-up) sets a call's disposition and
notes with the same timeline entry and event as ``PATCH /api/v1/calls/{id}``."""

from __future__ import annotations

import uuid

import pytest

from kernel import ProblemError, tenant_scope
from kernel.testing import outbox_events
from plugins.calls import set_call_outcome


async def outcome(platform, tenant, call_id, **values):
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            call = await set_call_outcome(platform, session, call_id, **values)
            await session.commit()
            return call


async def test_the_outcome_lands_on_the_call_like_a_patch(client, place, platform, tenant):
    call = await place(tags=["sales"])
    call_id = uuid.UUID(call["id"])
    await outcome(platform, tenant, call_id, disposition="sale", notes="2 seats", actor="user:x")
    await outcome(platform, tenant, call_id, disposition="sale")  # nothing changes
    await outcome(platform, tenant, call_id, notes="3 seats")
    detail = (await client.get(f"/api/v1/calls/{call_id}")).json()
    assert (detail["disposition"], detail["notes"]) == ("sale", "3 seats")
    updated = [e for e in detail["timeline"] if e["kind"] == "updated"]
    assert [e["detail"]["changed"] for e in updated] == [["disposition", "notes"], ["notes"]]
    updates = [
        r.payload
        for r in await outbox_events(platform, tenant)
        if r.name == "calls.call.updated" and r.payload["call_id"] == call["id"]
    ]
    assert [(u["changed"], u["disposition"], u["notes"], u["tags"]) for u in updates] == [
        (["disposition", "notes"], "sale", "2 seats", ["sales"]),
        (["notes"], "sale", "3 seats", ["sales"]),
    ]


async def test_an_unknown_call_is_the_not_found_problem(platform, tenant):
    with pytest.raises(ProblemError) as raised:
        await outcome(platform, tenant, uuid.uuid4(), disposition="sale")
    assert raised.value.problem.slug == "calls-call-not-found"
