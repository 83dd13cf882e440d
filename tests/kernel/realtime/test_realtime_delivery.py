"""What a subscriber receives: its patterns, what its roles may read, in order, with
heartbeats, over WebSocket and Server-Sent Events."""

from __future__ import annotations

import json
import uuid

from realtime_support import ThingDone, events, nothing_more, receive, subscribe, until
from sqlalchemy import update

from kernel import Tenant, tenant_scope


async def test_events_arrive_in_order_with_consecutive_positions(site):
    async with site.ws("alpha-agent") as ws:
        await subscribe(ws, ["*"])
        first = await site.publish("alpha-agent", count=5, label="a")
        second = await site.publish("alpha-agent", count=3, label="b")
        received = await events(ws, 8)
    assert [e["id"] for e in received] == first + second
    assert [e["position"] for e in received] == list(range(1, 9))
    envelope = received[0]
    assert envelope["type"] == "rt.thing.done"
    assert envelope["tenant_id"] == str(site.tenants["alpha"])
    assert envelope["aggregate"] == "rt.thing:a"
    assert envelope["version"] == 1
    assert envelope["occurred_at"].endswith("Z")
    assert envelope["data"] == {"label": "a", "n": 0, "pad": ""}


async def test_only_events_matching_a_pattern_arrive(site):
    async with site.ws("alpha-admin") as ws:
        await subscribe(ws, ["rt.secret.*"])
        await site.publish("alpha-admin", count=3)
        secrets = await site.publish("alpha-admin", kind="secret", count=2)
        received = await events(ws, 2)
        await nothing_more(ws)
    assert [e["id"] for e in received] == secrets
    assert [e["position"] for e in received] == [4, 5]


async def test_an_event_needs_its_read_permission(site):
    """rt.secret.done needs rt.secrets:read, which admins hold and agents do not."""
    async with site.ws("alpha-agent") as agent, site.ws("alpha-admin") as admin:
        await subscribe(agent, ["*"])
        await subscribe(admin, ["rt.*"])
        secret = await site.publish("alpha-admin", kind="secret")
        thing = await site.publish("alpha-admin")
        assert [e["id"] for e in await events(admin, 2)] == secret + thing
        assert [e["id"] for e in await events(agent, 1)] == thing
        await nothing_more(agent)


async def test_subscribing_again_replaces_the_patterns(site):
    async with site.ws("alpha-admin") as ws:
        await subscribe(ws, ["rt.thing.*"])
        ready = await subscribe(ws, ["rt.secret.*"])
        assert ready["patterns"] == ["rt.secret.*"]
        await site.publish("alpha-admin")
        secret = await site.publish("alpha-admin", kind="secret")
        assert [e["id"] for e in await events(ws, 1)] == secret


async def test_heartbeats_keep_coming(site):
    async with site.ws("alpha-agent") as ws:
        await subscribe(ws, ["*"])
        assert await receive(ws, skip_heartbeats=False) == {"type": "heartbeat"}
        assert await receive(ws, skip_heartbeats=False) == {"type": "heartbeat"}


async def test_a_plugin_the_tenant_disabled_sends_nothing(site):
    """Its events stop at the next credential check, like its routes answer 404."""
    async with site.ws("alpha-admin") as ws:
        await subscribe(ws, ["*"])
        async with site.platform.database.session() as session:
            await session.execute(
                update(Tenant)
                .where(Tenant.id == site.tenants["alpha"])
                .values(disabled_plugins=["rt"])
            )
            await session.commit()
        await site.rechecked(lambda principal: "rt" in principal.disabled_plugins)
        with tenant_scope(site.tenants["alpha"]):
            async with site.platform.database.session() as session:
                await site.platform.events.publish(session, ThingDone(label="off", n=0))
                await session.commit()
        await site.platform.dispatcher.drain()
        await nothing_more(ws, within=0.8)


async def test_open_connections_are_counted(site):
    gauge = site.platform.metrics.realtime_connections

    async def count(transport: str, expected: float) -> None:
        await until(lambda: gauge.labels(transport)._value.get() == expected)

    async with site.ws("alpha-agent") as ws:
        await subscribe(ws, ["*"])
        await count("websocket", 1)
        async with site.sse("alpha-agent", ["*"]) as stream:
            await stream.next()
            await count("sse", 1)
    await count("sse", 0)
    await count("websocket", 0)


async def test_server_sent_events(site):
    async with site.sse("alpha-admin", ["rt.thing.*", "rt.secret.*"]) as stream:
        headers = stream.response.headers
        assert headers["content-type"].startswith("text/event-stream")
        assert headers["cache-control"] == "no-cache"
        assert headers["x-accel-buffering"] == "no"
        ready = await stream.next()
        assert ready["event"] == "ready"
        assert ready["data"]["patterns"] == ["rt.thing.*", "rt.secret.*"]
        ids = await site.publish("alpha-admin", count=2)
        ids += await site.publish("alpha-admin", kind="secret")
        frames = await stream.events(3)
        assert [f["id"] for f in frames] == ids
        assert [f["event"] for f in frames] == ["rt.thing.done"] * 2 + ["rt.secret.done"]
        assert [f["data"]["position"] for f in frames] == [1, 2, 3]
        assert frames[0]["data"]["data"] == {"label": "x", "n": 0, "pad": ""}
        heartbeat = await stream.next(skip_heartbeats=False)
        assert heartbeat == {"comment": "heartbeat"}


async def test_server_sent_events_respect_permissions(site):
    async with site.sse("alpha-agent", ["*"]) as stream:
        await stream.next()  # ready
        await site.publish("alpha-admin", kind="secret")
        thing = await site.publish("alpha-admin")
        assert [f["id"] for f in await stream.events(1)] == thing


async def test_the_envelope_is_valid_json_for_any_payload(site):
    async with site.ws("alpha-agent") as ws:
        await subscribe(ws, ["rt.thing.*"])
        label = 'quote " backslash \\ ünïcode ' + uuid.uuid4().hex
        await site.publish("alpha-agent", label=label)
        (envelope,) = await events(ws, 1)
    assert envelope["data"]["label"] == label
    assert json.loads(json.dumps(envelope)) == envelope
