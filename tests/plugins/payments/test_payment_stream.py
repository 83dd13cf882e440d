"""Payment events on the real-time stream: an agent receives only those of the payments
they took (the events' audience), a supervisor (``payments:all``) every one."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from payments_suite import Payments, organization, pay

from kernel.testing import serve_app

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

WAIT = 30.0


@pytest.fixture
async def live_payments(stand_in, kraliki_make_app) -> AsyncIterator[Payments]:
    """As ``payments``, with the background workers that dispatch events to streams."""
    app = await kraliki_make_app(outbound_attempts=2, outbound_timeout_seconds=1.0)
    async with contextlib.AsyncExitStack() as stack:
        url = await stack.enter_async_context(serve_app(app))
        found = Payments(app, url, stand_in)
        async with found.stack:
            yield found


async def read(lines: Any, count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    name = ""
    async for line in lines:
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: ") and name.startswith("payments."):
            found.append(json.loads(line.removeprefix("data: ")))
            if len(found) == count:
                return found
    raise AssertionError("the stream ended")


async def test_an_agent_hears_only_their_own_payments(live_payments, kraliki_make_owner):
    acme = await organization(live_payments, kraliki_make_owner, "acme")
    agent = await live_payments.user(acme, "agent")
    supervisor = await live_payments.user(acme, "supervisor")
    options: dict[str, Any] = {
        "params": {"events": ["payments.payment.*"]},
        "timeout": httpx.Timeout(WAIT, read=WAIT),
    }
    async with (
        agent.stream("GET", "/realtime/sse", **options) as agent_stream,
        supervisor.stream("GET", "/realtime/sse", **options) as supervisor_stream,
    ):
        agent_lines, supervisor_lines = agent_stream.aiter_lines(), supervisor_stream.aiter_lines()
        assert await anext(agent_lines) == "event: ready"
        assert await anext(supervisor_lines) == "event: ready"
        others = await pay(acme.api, 900)  # the owner's
        own = await pay(agent, 700)

        heard = await read(agent_lines, 2)  # created, succeeded
        assert {e["data"]["payment_id"] for e in heard} == {own["id"]}
        assert {e["data"]["agent_id"] for e in heard} == {own["agent_id"]}
        everything = await read(supervisor_lines, 4)
        assert {e["data"]["payment_id"] for e in everything} == {own["id"], others["id"]}
