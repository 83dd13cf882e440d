"""A client that stops reading is closed with 4008 once its buffer fills; nobody else waits
for it, and a client that keeps up is never dropped for a burst bigger than the buffer."""

from __future__ import annotations

import asyncio

from realtime_support import closed_with, events, running_site, subscribe, until

BURST = 300
PAD = 2000  # bytes per event: the slow client's socket fills after a few dozen


async def test_a_slow_client_is_dropped_and_the_others_get_everything(kraliki_make_app):
    async with running_site(kraliki_make_app, send_buffer=4096, realtime_buffer_events=10) as site:
        dropped = site.platform.metrics.realtime_dropped.labels("websocket")
        async with site.slow_ws("alpha-agent") as slow, site.ws("alpha-agent") as fast:
            await subscribe(slow, ["*"])
            await subscribe(fast, ["*"])
            reading = asyncio.create_task(events(fast, BURST))
            ids = await site.publish("alpha-agent", count=BURST, pad=PAD)
            await until(lambda: dropped._value.get() == 1)
            stream = site.platform.realtime._streams[site.tenants["alpha"]]
            assert len(stream.subscribers) == 1  # the fan-out let go of the slow one
            code, messages = await closed_with(slow)  # now it reads what got through
            received = await reading
            assert [e["id"] for e in received] == ids  # all of them, in order, 30x the buffer
        assert code == 4008
        assert messages[-1]["type"] == "error"
        assert "too slow" in messages[-1]["message"]
        got = [m["event"]["position"] for m in messages if m["type"] == "event"]
        assert 0 < len(got) < BURST
        assert got == list(range(1, len(got) + 1))
