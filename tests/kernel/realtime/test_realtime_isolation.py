"""Tenant A's stream never carries tenant B's events, whatever A subscribes to or resumes
from (on PostgreSQL as the unprivileged app role, so RLS is in force underneath), and the
fan-out follows dispatches through wake-ups (NOTIFY across workers on PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest
from realtime_support import WAIT, events, nothing_more, running_site, subscribe

from kernel.testing import serve_app


async def test_a_never_receives_b_events(site):
    async with (
        site.ws("alpha-admin") as a_ws,
        site.ws("beta-admin") as b_ws,
        site.sse("alpha-admin", ["*"]) as a_sse,
    ):
        await subscribe(a_ws, ["*"])
        await subscribe(b_ws, ["*"])
        assert (await a_sse.next())["event"] == "ready"
        b_ids = await site.publish("beta-admin", count=20, label="beta")
        b_ids += await site.publish("beta-admin", kind="secret", count=5, label="beta")
        assert [e["id"] for e in await events(b_ws, 25)] == b_ids
        a_ids = await site.publish("alpha-agent", label="alpha")
        # A's first event is its own: B's 25 were never offered to it.
        (a_event,) = await events(a_ws, 1)
        assert a_event["id"] == a_ids[0]
        assert a_event["position"] == 1
        assert a_event["tenant_id"] == str(site.tenants["alpha"])
        (a_frame,) = await a_sse.events(1)
        assert a_frame["id"] == a_ids[0]
        await nothing_more(a_ws)
        await nothing_more(b_ws)


async def test_resuming_from_b_event_resets_instead_of_replaying(site):
    async with site.ws("beta-admin") as b_ws:
        await subscribe(b_ws, ["*"])
        b_ids = await site.publish("beta-admin", count=3, label="beta")
        await events(b_ws, 3)
    await site.publish("alpha-agent", count=2, label="alpha")
    await site.platform.dispatcher.drain()
    async with site.ws("alpha-admin") as a_ws:
        ready = await subscribe(a_ws, ["*"], last_event_id=b_ids[0])
        assert ready["reset"]["reason"] == "unknown-event"
        assert ready["replayed"] == 0
        await nothing_more(a_ws)
    async with site.sse("alpha-admin", ["*"], last_event_id=b_ids[0]) as a_sse:
        assert (await a_sse.next())["event"] == "reset"
        assert (await a_sse.next())["data"]["replayed"] == 0


async def test_fan_out_follows_dispatch_wake_ups(kraliki_make_app):
    """With the sweep a minute away, only the dispatcher's wake-up (NOTIFY on PostgreSQL,
    an in-process call on SQLite) can bring the event in time."""
    async with (
        running_site(kraliki_make_app, realtime_heartbeat_seconds=60) as site,
        site.ws("alpha-agent") as ws,
    ):
        await subscribe(ws, ["*"])
        ids = await site.publish("alpha-agent")
        assert [e["id"] for e in await events(ws, 1)] == ids


@pytest.mark.postgres_only
async def test_a_subscriber_on_another_worker_hears_dispatches_by_notify(kraliki_make_app):
    """Worker 2 runs no dispatcher: worker 1 dispatches, NOTIFY tells worker 2's hub."""
    async with running_site(kraliki_make_app, realtime_heartbeat_seconds=60) as site:
        other = await kraliki_make_app(
            migrate=False, background_workers=False, realtime_heartbeat_seconds=60
        )
        async with serve_app(other) as url:
            other_site = type(site)(other, url, site.http, site.tenants, site.accounts)
            async with other_site.ws("alpha-agent") as ws:
                await subscribe(ws, ["*"])
                ids = await site.publish("alpha-agent", count=3)  # to worker 1
                async with asyncio.timeout(WAIT):
                    assert [e["id"] for e in await events(ws, 3)] == ids
