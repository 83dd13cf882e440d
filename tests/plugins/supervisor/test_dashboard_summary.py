"""The dashboard's summary against hand-computed figures: the organization's day in a time
zone fourteen hours ahead of UTC, and a three-day range. Queued calls, handled calls and call
legs are written at chosen instants around the zone's midnights (as routing and the calls
plugin store them); queues and agents go through the API."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from supervisor_dash_helpers import (
    DASHBOARD,
    add_handled,
    add_item,
    add_leg,
    create_agent,
    create_queue,
    force_state,
    ok,
    set_agent,
)

ZONE = "Pacific/Kiritimati"  # UTC+14: its day starts at 10:00 UTC the day before


@pytest.fixture
def no_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Routing must not touch the rows written here."""
    monkeypatch.setenv("KRALIKI_BACKGROUND_WORKERS", "false")


async def test_today_and_a_range_in_the_organizations_time_zone(
    no_workers, kraliki_client, kraliki_make_owner, kraliki_platform
):
    client, platform, owner = kraliki_client, kraliki_platform, await kraliki_make_owner("acme")
    tenant = owner.tenant_id
    zone = ZoneInfo(ZONE)
    await ok(await client.patch("/api/v1/tenant", headers=owner.headers, json={"timezone": ZONE}))
    queue_id = await create_queue(client, owner.headers, service_level_seconds=20)
    today = datetime.now(zone).date()

    def local(days_ago: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
        day = today - timedelta(days=days_ago)
        return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=zone)

    async def item(at: datetime, status: str, wait: float | None) -> None:
        await add_item(platform, tenant, queue_id, status=status, entered_at=at, wait_seconds=wait)

    # Today: answered in 10 s (within 20 s) and in 30 s, one abandoned, one overflowed,
    # one still waiting (not in the day's figures yet).
    await item(local(0, 0, 0, 30), "completed", 10)
    await item(local(0, 0, 5), "connected", 30)
    await item(local(0, 0, 10), "abandoned", 40)
    await item(local(0, 0, 15), "overflowed", 60)
    await item(local(0, 0, 20), "waiting", None)
    # Yesterday: answered in 5 s, abandoned after 3 s; its last minute belongs to it.
    await item(local(1, 12), "completed", 5)
    await item(local(1, 23, 59, 30), "abandoned", 3)
    # The range's first day starts at its midnight; the day before is out.
    await item(local(2, 0, 0, 30), "completed", 15)
    await item(local(3, 23, 59, 30), "completed", 12)

    # Calls: customers' legs count; agents' and supervisors' legs do not.
    await add_leg(platform, tenant, at=local(0, 0, 1), direction="inbound", handler="ivr")
    await add_leg(platform, tenant, at=local(0, 0, 2), direction="inbound")
    await add_leg(
        platform, tenant, at=local(0, 0, 3), direction="outbound", handler="campaigns",
        target="attempt:1", placed_by="campaign:1", tags=["campaign"],
    )  # fmt: skip
    await add_leg(
        platform, tenant, at=local(0, 0, 4), direction="outbound", placed_by="queues"
    )  # a callback to a customer
    for handler, target, by in (
        ("queues", "offer:1", "queues"),
        ("campaigns", "seat:1", "campaigns"),
        ("campaigns", "preview:1", "campaign:1"),
        ("supervisor", "session:1", "supervisor"),
    ):
        await add_leg(
            platform, tenant, at=local(0, 0, 6), direction="outbound", handler=handler,
            target=target, placed_by=by,
        )  # fmt: skip
    await add_leg(platform, tenant, at=local(1, 9), direction="inbound")
    await add_leg(platform, tenant, at=local(3, 23, 59), direction="inbound")

    # Handled calls: talk + wrap-up; one still in wrap-up (its talk counts), one on the call.
    ada = await create_agent(client, owner.headers, "Ada")
    await add_handled(platform, tenant, ada, at=local(0, 0, 1), talk=100, wrap=20)
    await add_handled(platform, tenant, ada, at=local(0, 0, 2), talk=50, wrap=None)
    await add_handled(platform, tenant, ada, at=local(0, 0, 3), talk=None, wrap=None)
    await add_handled(platform, tenant, ada, at=local(1, 8), talk=200, wrap=40)
    await add_handled(platform, tenant, ada, at=local(3, 22), talk=999, wrap=1)

    # Agents now: available, away, on a call, offline; an inactive one does not count.
    bob, cid, _dee, eve = [await create_agent(client, owner.headers, n) for n in "BCDE"]
    await force_state(client, owner.headers, ada, "available")
    await force_state(client, owner.headers, bob, "away")
    await set_agent(platform, tenant, cid, state="on_call")
    await set_agent(platform, tenant, eve, state="available", active=False)

    day = await ok(await client.get(f"{DASHBOARD}/summary", headers=owner.headers))
    assert (day["from"], day["to"], day["time_zone"]) == (str(today), str(today), ZONE)
    assert datetime.fromisoformat(day["start"]) == local(0, 0)
    assert datetime.fromisoformat(day["end"]) == local(-1, 0)
    assert day["calls"] == {"inbound": 2, "outbound": 2}
    assert day["queues"] == {
        "offered": 4,
        "answered": 2,
        "answered_within_threshold": 1,
        "abandoned": 1,
        "short_abandoned": 0,
        "overflowed": 1,
        "service_level": 25.0,
        "asa_seconds": 20.0,
        "abandon_rate": 25.0,
    }
    assert day["handling"] == {
        "handled": 3,
        "talked": 2,
        "aht_seconds": 85.0,  # (100 + 20 + 50) / 2
        "talk_seconds": 75.0,
        "wrap_up_seconds": 10.0,
    }
    assert day["agents"]["logged_in"] == 3
    assert day["agents"]["by_state"] == {
        "offline": 1,
        "available": 1,
        "reserved": 0,
        "on_call": 1,
        "wrap_up": 0,
        "away": 1,
    }
    assert day["campaigns"] == []

    first = today - timedelta(days=2)
    span = await ok(
        await client.get(
            f"{DASHBOARD}/summary",
            headers=owner.headers,
            params={"from": str(first), "to": str(today)},
        )
    )
    assert (span["from"], span["to"]) == (str(first), str(today))
    assert datetime.fromisoformat(span["start"]) == local(2, 0)
    assert span["calls"] == {"inbound": 3, "outbound": 2}
    assert span["queues"] == {
        "offered": 7,  # answered 10, 30, 5, 15; abandoned 40, 3; overflowed
        "answered": 4,
        "answered_within_threshold": 3,
        "abandoned": 2,
        "short_abandoned": 0,
        "overflowed": 1,
        "service_level": 42.9,  # 300 / 7
        "asa_seconds": 15.0,  # (10 + 30 + 5 + 15) / 4
        "abandon_rate": 28.6,
    }
    assert span["handling"] == {
        "handled": 4,
        "talked": 3,
        "aht_seconds": 136.7,  # (120 + 50 + 240) / 3
        "talk_seconds": 116.7,
        "wrap_up_seconds": 20.0,
    }

    # Yesterday alone: ``to`` without ``from`` is that one day.
    yesterday = today - timedelta(days=1)
    one = await ok(
        await client.get(
            f"{DASHBOARD}/summary", headers=owner.headers, params={"to": str(yesterday)}
        )
    )
    assert (one["from"], one["to"]) == (str(yesterday), str(yesterday))
    assert (one["queues"]["offered"], one["queues"]["service_level"]) == (2, 50.0)
    assert one["calls"] == {"inbound": 1, "outbound": 0}


async def test_a_range_backwards_or_too_long_is_refused(kraliki_client, kraliki_make_owner):
    client, owner = kraliki_client, await kraliki_make_owner("acme")
    cases = [
        ({"from": "2026-03-02", "to": "2026-03-01"}, ["query", "from"]),
        ({"from": "2024-01-01", "to": "2026-01-01"}, ["query", "to"]),
    ]
    for params, loc in cases:
        response = await client.get(f"{DASHBOARD}/summary", headers=owner.headers, params=params)
        assert response.status_code == 422, response.text
        assert [e["loc"] for e in response.json()["errors"]] == [loc]
