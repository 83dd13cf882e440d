"""The provider's first webhook racing the placing request's own update of the call.

Placing commits the call as queued, asks the provider, then records its answer under the
call's row lock. The provider's ``initiated`` webhook may get there first: the placing
request must then read the status the webhook committed, not the one it loaded before it
asked (the session's identity map), or it publishes ``calls.call.initiated`` a second time.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from kernel.testing import wait_until
from plugins.calls import service
from plugins.calls.provider import CallProgress, CallStatus
from plugins.calls.testing import call_events, fakeline_log


async def _events(platform, tenant_id, call_id) -> list[str]:
    return [name for name, _ in await call_events(platform, tenant_id, call_id)]


BLOCKED_BY = "SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"
"""Backends waiting for a lock that backend ``pid`` holds."""


def _statuses(detail: dict) -> list[str]:
    return [e["status"] for e in detail["timeline"] if e["kind"] == "status"]


async def test_a_webhook_that_beats_the_providers_answer_is_not_repeated(
    place, send, client, platform, tenant
):
    async def webhook_first(request, provider_call_id):
        answer = await send(
            [{"type": "progress", "call": provider_call_id, "status": "initiated"}],
            call_id=request.call_id,
        )
        assert answer.status_code == 200, answer.text

    fakeline_log(platform).on_place = webhook_first
    call = await place()
    assert call["status"] == "initiated"
    detail = (await client.get(f"/api/v1/calls/{call['id']}")).json()
    assert _statuses(detail) == ["initiated"]
    assert await _events(platform, tenant, call["id"]) == [
        "calls.call.created",
        "calls.call.initiated",
    ]


@pytest.mark.postgres_only
async def test_a_locked_read_sees_what_the_lock_holder_committed(place, client, platform, tenant):
    """The webhook holds the row lock while the placing request waits for it, then moves
    the call on and commits: the placing request must read the row as committed."""
    finished: list[asyncio.Task[None]] = []

    async def blocked_on(pid: int) -> bool:
        async with platform.database.engine.connect() as connection:
            waiting = await connection.scalar(
                text(BLOCKED_BY),
                {"pid": pid},
            )
        return bool(waiting)

    async def hold_the_lock(request, provider_call_id):
        session = platform.database.sessionmaker()
        call = await service.get_call(session, request.call_id, for_update=True)
        holder = int(await session.scalar(text("SELECT pg_backend_pid()")))

        async def webhook() -> None:
            try:
                async with asyncio.timeout(10):
                    # Polling: nothing signals that the placing request waits for us.
                    while not await blocked_on(holder):  # noqa: ASYNC110
                        await asyncio.sleep(0.01)
                call.provider_call_id = provider_call_id
                progress = CallProgress(provider_call_id, CallStatus.INITIATED)
                await service.apply_progress(platform, session, call, progress)
                await session.commit()
            finally:
                await session.close()

        finished.append(asyncio.create_task(webhook()))

    fakeline_log(platform).on_place = hold_the_lock
    call = await place()
    await wait_until(lambda: finished and finished[0].done())
    await finished[0]  # re-raises what failed in it
    assert call["status"] == "initiated"
    detail = (await client.get(f"/api/v1/calls/{call['id']}")).json()
    assert _statuses(detail) == ["initiated"]
    assert await _events(platform, tenant, call["id"]) == [
        "calls.call.created",
        "calls.call.initiated",
    ]
