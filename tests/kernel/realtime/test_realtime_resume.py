"""A client that reconnects with the last event it saw gets exactly what it missed, then
live events; when that is not possible it is told so (``reset``)."""

from __future__ import annotations

import pytest
from realtime_support import events, nothing_more, running_site, subscribe


async def _seen_then_missed(site, who: str, seen: int, missed: int) -> tuple[str, list[str]]:
    """Watch ``seen`` events, disconnect, let ``missed`` more be dispatched: (the last
    seen id, the missed ids)."""
    async with site.ws(who) as ws:
        await subscribe(ws, ["*"])
        await site.publish(who, count=seen, label="seen")
        last = (await events(ws, seen))[-1]["id"]
    missed_ids = await site.publish(who, count=missed, label="missed")
    await site.platform.dispatcher.drain()
    return last, missed_ids


async def test_websocket_resume_replays_exactly_the_missed_events(site):
    last, missed = await _seen_then_missed(site, "alpha-agent", seen=3, missed=4)
    async with site.ws("alpha-agent") as ws:
        ready = await subscribe(ws, ["*"], last_event_id=last)
        assert "reset" not in ready
        assert ready["replayed"] == 4
        assert ready["position"] == 7
        replayed = await events(ws, 4)
        assert [e["id"] for e in replayed] == missed
        assert [e["position"] for e in replayed] == [4, 5, 6, 7]
        live = await site.publish("alpha-agent", label="live")
        assert [e["id"] for e in await events(ws, 1)] == live  # no duplicates in between
        await nothing_more(ws)


async def test_the_replay_honours_patterns_and_permissions(site):
    last, _ = await _seen_then_missed(site, "alpha-admin", seen=1, missed=0)
    secret = await site.publish("alpha-admin", kind="secret", label="missed")
    things = await site.publish("alpha-admin", count=2, label="missed")
    await site.platform.dispatcher.drain()
    async with site.ws("alpha-agent") as agent:
        ready = await subscribe(agent, ["*"], last_event_id=last)
        assert ready["replayed"] == 2
        assert [e["id"] for e in await events(agent, 2)] == things
    async with site.ws("alpha-admin") as admin:
        ready = await subscribe(admin, ["rt.secret.*"], last_event_id=last)
        assert ready["replayed"] == 1
        assert [e["id"] for e in await events(admin, 1)] == secret


async def test_resuming_again_on_the_same_connection(site):
    async with site.ws("alpha-agent") as ws:
        await subscribe(ws, ["*"])
        ids = await site.publish("alpha-agent", count=4)
        await events(ws, 4)
        ready = await subscribe(ws, ["*"], last_event_id=ids[1])
        assert ready["replayed"] == 2
        assert [e["id"] for e in await events(ws, 2)] == ids[2:]
        await nothing_more(ws)


async def test_sse_resume_with_last_event_id(site):
    async with site.sse("alpha-agent", ["*"]) as stream:
        await stream.next()  # ready
        await site.publish("alpha-agent", count=2, label="seen")
        last = (await stream.events(2))[-1]["id"]
    missed = await site.publish("alpha-agent", count=3, label="missed")
    await site.platform.dispatcher.drain()
    async with site.sse("alpha-agent", ["*"], last_event_id=last) as stream:
        ready = await stream.next()
        assert ready["event"] == "ready"
        assert ready["data"]["replayed"] == 3
        assert [f["id"] for f in await stream.events(3)] == missed
        live = await site.publish("alpha-agent", label="live")
        assert [f["id"] for f in await stream.events(1)] == live


@pytest.mark.parametrize(
    "last_event_id", ["6f1c1b6e-9a43-4c8e-8f4e-3d2f7f0b5a11", "not-an-event-id"]
)
async def test_an_unknown_event_id_resets(site, last_event_id):
    await site.publish("alpha-agent", count=2)
    await site.platform.dispatcher.drain()
    async with site.ws("alpha-agent") as ws:
        ready = await subscribe(ws, ["*"], last_event_id=last_event_id)
        assert ready["reset"] == {"type": "reset", "reason": "unknown-event", "position": 2}
        assert ready["position"] == 2
        live = await site.publish("alpha-agent", label="live")
        assert [e["id"] for e in await events(ws, 1)] == live
    async with site.sse("alpha-agent", ["*"], last_event_id=last_event_id) as stream:
        reset = await stream.next()
        assert reset["event"] == "reset"
        assert reset["data"]["reason"] == "unknown-event"
        assert "id" not in reset  # control events never move the client's Last-Event-ID


async def test_a_gap_wider_than_the_buffer_resets(kraliki_make_app):
    async with running_site(kraliki_make_app, realtime_buffer_events=10) as site:
        last, missed = await _seen_then_missed(site, "alpha-agent", seen=1, missed=9)
        async with site.ws("alpha-agent") as ws:  # 9 missed: they fit
            ready = await subscribe(ws, ["*"], last_event_id=last)
            assert ready["replayed"] == 9
            assert [e["id"] for e in await events(ws, 9)] == missed
        await site.publish("alpha-agent", label="one too many")
        await site.platform.dispatcher.drain()
        async with site.ws("alpha-agent") as ws:  # 10 missed: they do not
            ready = await subscribe(ws, ["*"], last_event_id=last)
            assert ready["reset"]["reason"] == "too-far-behind"
            assert ready["replayed"] == 0
            await nothing_more(ws)
