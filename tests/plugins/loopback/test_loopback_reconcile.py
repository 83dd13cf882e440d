"""Loopback calls whose process died or stopped: a new process on the same database settles
them at start-up (failed, ``carrier-lost``), a hang-up no longer dead-ends, and two live
workers of one deployment never end each other's calls.

Each test serves the first app (its carrier calls it back over HTTP) and builds a second
one on the same database, as a restarted process or another worker.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

import plugins.loopback.plugin
from kernel.testing import app_client, published_events, serve_app, wait_until
from plugins.calls import PERMISSIONS, CallStatus
from plugins.calls.testing import age_calls, run_reconciliation, use_public_base_url
from plugins.loopback.testing import crash_carrier, live_call

ALL = tuple(p.key for p in PERMISSIONS)
ON_THE_LINE = ["answer", {"step": "wait", "seconds": 3000}, "hangup"]
RINGING = [{"step": "ring", "seconds": 600}, "answer"]
TERMINAL = {s.value for s in CallStatus if s.terminal}


@pytest.fixture(autouse=True)
def slower_carrier(fast_carrier, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tenth of real time: a call rings for 12 s before the caller gives up, long enough
    to catch it ringing on a busy machine (the tests end the calls long before)."""
    monkeypatch.setenv("KRALIKI_LOOPBACK_TIME_SCALE", "0.1")


@pytest.fixture
async def first(app, platform, tenant, kraliki_authenticate) -> AsyncIterator[httpx.AsyncClient]:
    """The first process: served, placing the tenant's calls."""
    kraliki_authenticate(app, *ALL, kind="user", tenant_id=tenant)
    async with serve_app(app) as url:
        use_public_base_url(platform, url)
        async with app_client(app) as client:
            yield client


async def second_process(make_app, loopback_plugins, authenticate, tenant, **settings: Any):
    """Another process on the same database (migrated already)."""
    app = await make_app(plugins=loopback_plugins, migrate=False, **settings)
    authenticate(app, *ALL, kind="user", tenant_id=tenant)
    return app


async def place(client: httpx.AsyncClient, script: list[Any]) -> dict[str, Any]:
    body = {"to": "+14155550123", "from": "+14155550100", "timeout_seconds": 120}
    response = await client.post("/api/v1/calls", json=body | {"options": {"script": script}})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def status(client: httpx.AsyncClient, call: dict[str, Any]) -> dict[str, Any]:
    response = await client.get(f"/api/v1/calls/{call['id']}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def until(client: httpx.AsyncClient, call: dict[str, Any], *wanted: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def reached() -> bool:
        found.update(await status(client, call))
        return found["status"] in (set(wanted) or TERMINAL)

    # Generous: on a busy machine with SQLite, a call's progress can take seconds to show.
    try:
        async with asyncio.timeout(30):
            while not await reached():  # noqa: ASYNC110 - polling the API: nothing signals
                await asyncio.sleep(0.05)
    except TimeoutError:
        wanted_text = wanted or "final"
        raise AssertionError(f"call never reached {wanted_text}; last seen: {found}") from None
    return found


async def calls_in_flight(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Two calls ringing and two answered."""
    calls = [await place(client, RINGING) for _ in range(2)]
    calls += [await place(client, ON_THE_LINE) for _ in range(2)]
    statuses = ("ringing", "ringing", "in-progress", "in-progress")
    for call, wanted in zip(calls, statuses, strict=True):
        await until(client, call, wanted)
    return calls


async def end_events(platform, tenant_id) -> dict[str, tuple[str, dict]]:
    return {
        payload["call_id"]: (name, payload)
        for name, payload in await published_events(platform, tenant_id)
        if payload.get("reason") is not None
    }


async def assert_carrier_lost(client, platform, tenant, calls) -> None:
    for call in calls:
        done = await until(client, call)
        assert (done["status"], done["hangup_cause"]) == ("failed", "carrier-lost")
    ends = await end_events(platform, tenant)
    for call in calls:
        name, payload = ends[call["id"]]
        assert (name, payload["reason"]) == ("calls.call.failed", "carrier-lost")


async def test_calls_of_a_crashed_process_are_settled_when_the_next_one_starts(
    first, platform, tenant, kraliki_make_app, loopback_plugins, kraliki_authenticate
):
    calls = await calls_in_flight(first)
    dropped = await crash_carrier(platform, died_ago=120)
    assert {call["provider_call_id"] for call in calls} <= set(dropped)
    await age_calls(platform, tenant, 1000)  # nothing was heard of them since

    restarted = await second_process(
        kraliki_make_app,
        loopback_plugins,
        kraliki_authenticate,
        tenant,
        background_workers=True,  # its job worker reconciles, woken at start-up
    )
    async with app_client(restarted) as client:
        await assert_carrier_lost(client, restarted.state.platform, tenant, calls)
        timeline = (await status(client, calls[2]))["timeline"]
        assert (timeline[-1]["source"], timeline[-1]["detail"]["reason"]) == (
            "platform",
            "carrier-lost",
        )


async def test_calls_of_a_stopped_process_are_lost_at_once_and_settled_once_stale(
    first, platform, tenant, kraliki_make_app, loopback_plugins, kraliki_authenticate
):
    calls = await calls_in_flight(first)
    await plugins.loopback.plugin.kraliki_shutdown(platform)  # SIGTERM: its lease is released
    restarted = await second_process(
        kraliki_make_app, loopback_plugins, kraliki_authenticate, tenant, background_workers=False
    )
    other = restarted.state.platform
    await run_reconciliation(other, tenant)
    async with app_client(restarted) as client:
        assert [(await status(client, c))["status"] for c in calls] == [
            "ringing",
            "ringing",
            "in-progress",
            "in-progress",
        ]  # not stale yet: left alone
        await age_calls(other, tenant, 1000)
        await run_reconciliation(other, tenant)
        await assert_carrier_lost(client, other, tenant, calls)


async def test_a_hangup_of_a_call_whose_carrier_is_gone_ends_it(
    first, platform, tenant, kraliki_make_app, loopback_plugins, kraliki_authenticate
):
    call = await place(first, ON_THE_LINE)
    await until(first, call, "in-progress")
    await crash_carrier(platform, died_ago=120)
    restarted = await second_process(
        kraliki_make_app, loopback_plugins, kraliki_authenticate, tenant, background_workers=False
    )
    async with app_client(restarted) as client:
        response = await client.post(f"/api/v1/calls/{call['id']}/hangup")
        assert response.status_code == 200, response.text
        assert (response.json()["status"], response.json()["hangup_cause"]) == (
            "failed",
            "carrier-lost",
        )


async def test_two_live_workers_do_not_end_each_others_calls(
    first, platform, tenant, kraliki_make_app, loopback_plugins, kraliki_authenticate
):
    call = await place(first, ON_THE_LINE)
    await until(first, call, "in-progress")
    worker = await second_process(
        kraliki_make_app, loopback_plugins, kraliki_authenticate, tenant, background_workers=False
    )
    other = worker.state.platform
    await age_calls(other, tenant, 1000)  # a long silence on a live call
    await run_reconciliation(other, tenant)
    async with app_client(worker) as client:
        assert (await status(client, call))["status"] == "in-progress"
        assert live_call(platform, call["provider_call_id"]) is not None
        refused = await client.post(f"/api/v1/calls/{call['id']}/hangup")
        assert refused.status_code == 422  # it runs in the first worker only
        assert "not running in this process" in refused.json()["detail"]
        assert (await status(client, call))["status"] == "in-progress"

        # An admin may still end it from here; the first worker's carrier is not reached.
        forced = await client.post(f"/api/v1/calls/{call['id']}/force-end")
        assert (forced.status_code, forced.json()["status"]) == (200, "completed")
        last = (await status(client, call))["timeline"][-1]
        assert (last["kind"], last["detail"]["outcome"]) == ("provider-hangup", "failed")
    # The first worker hangs up its own calls as usual.
    mine = await place(first, ON_THE_LINE)
    await until(first, mine, "in-progress")
    assert (await first.post(f"/api/v1/calls/{mine['id']}/hangup")).status_code == 200
    await until(first, mine)
    await wait_until(lambda: live_call(platform, mine["provider_call_id"]) is None)


def test_an_id_names_its_carrier():
    from plugins.loopback.carrier.lease import carrier_of

    instance, own = "0123456789abcdef", uuid.uuid4().hex
    assert carrier_of(f"LB{instance}{own}") == instance
    assert carrier_of(f"LB{own}") is None  # placed before carriers were named
    assert carrier_of(None) is None
