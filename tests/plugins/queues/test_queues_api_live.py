"""Live state computed from known rows: the line in order, agents by state, today's offered,
answered (within the threshold or not), abandoned (short ones aside), overflowed, service
level, ASA and abandon rate; every queue at once; available agents per queue; the history of
a queue's calls; and the ``queues.queue.stats`` event."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from queues_helpers import BASE, add_agent, add_item, add_team, create_queue

from kernel import tenant_scope, utcnow
from kernel.testing import published_events
from plugins.agents import AgentState
from plugins.queues.config import QUEUES_SETTINGS, QueuesSettings
from plugins.queues.live import publish_stats


def today_at(seconds_ago: float) -> datetime:
    """``seconds_ago`` before now, but never before today's UTC midnight (so that a run just
    after midnight still counts every seeded call as today's)."""
    now = utcnow()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return max(now - timedelta(seconds=seconds_ago), midnight)


async def seed_day(platform, tenant_id, queue_id) -> dict[str, uuid.UUID]:
    """Today: answered after 5 s, 15 s (still talking) and 40 s; abandoned after 30 s and after
    2 s (short with a 5 s threshold); overflowed after 300 s; one taken out. Yesterday: one
    answered. Waiting now: four calls, one of them being offered."""
    add = add_item
    ids = {}
    ids["fast"] = await add(platform, tenant_id, queue_id, status="completed", wait_seconds=5)
    ids["talking"] = await add(platform, tenant_id, queue_id, status="connected", wait_seconds=15)
    ids["late"] = await add(platform, tenant_id, queue_id, status="completed", wait_seconds=40)
    ids["gone"] = await add(platform, tenant_id, queue_id, status="abandoned", wait_seconds=30)
    ids["short"] = await add(platform, tenant_id, queue_id, status="abandoned", wait_seconds=2)
    ids["over"] = await add(platform, tenant_id, queue_id, status="overflowed", wait_seconds=300)
    ids["out"] = await add(platform, tenant_id, queue_id, status="cancelled", wait_seconds=8)
    ids["yesterday"] = await add(
        platform,
        tenant_id,
        queue_id,
        status="completed",
        wait_seconds=1,
        entered_at=utcnow() - timedelta(days=1, hours=1),
    )
    ids["p0_old"] = await add(platform, tenant_id, queue_id, entered_at=today_at(100))
    ids["p0_offered"] = await add(
        platform, tenant_id, queue_id, status="offered", entered_at=today_at(70), offers=1
    )
    ids["p0_new"] = await add(platform, tenant_id, queue_id, entered_at=today_at(50))
    ids["p5"] = await add(
        platform, tenant_id, queue_id, entered_at=today_at(10), priority=5, kind="callback"
    )
    return ids


async def test_the_live_state_of_a_queue(client, owner, platform, tenant_id):
    team = await add_team(platform, tenant_id, "Tier 2")
    ada = await add_agent(platform, tenant_id, "Ada")
    await add_agent(platform, tenant_id, "Bob", state=AgentState.ON_CALL, team_ids=[team])
    await add_agent(platform, tenant_id, "Carl", state=AgentState.AWAY, team_ids=[team])
    dave = await add_agent(platform, tenant_id, "Dave", state=AgentState.OFFLINE)
    eve = await add_agent(platform, tenant_id, "Eve", active=False)
    await add_agent(platform, tenant_id, "Frank")  # serves no queue
    queue = await create_queue(
        client,
        owner.headers,
        agent_ids=[str(ada), str(dave), str(eve)],
        team_ids=[str(team)],
        service_level_seconds=20,
    )
    QUEUES_SETTINGS.set(platform, QueuesSettings(short_abandon_seconds=5))
    ids = await seed_day(platform, tenant_id, queue["id"])

    response = await client.get(f"{BASE}/{queue['id']}/live", headers=owner.headers)
    assert response.status_code == 200, response.text
    live = response.json()
    assert [(c["item_id"], c["position"]) for c in live["calls"]] == [
        (str(ids["p5"]), 1),
        (str(ids["p0_old"]), 2),
        (str(ids["p0_offered"]), 3),
        (str(ids["p0_new"]), 4),
    ]
    first = live["calls"][0]
    assert (first["kind"], first["status"], first["priority"]) == ("callback", "waiting", 5)
    assert live["calls"][2]["status"] == "offered"
    assert 9 <= first["wait_seconds"] <= 40
    assert (live["waiting"], live["connected"]) == (4, 1)
    assert 99 <= live["oldest_wait_seconds"] <= 130
    assert live["agents"] == {
        "offline": 1,
        "available": 1,
        "reserved": 0,
        "on_call": 1,
        "wrap_up": 0,
        "away": 1,
    }
    today = live["today"]
    assert today.pop("day") == utcnow().date().isoformat()
    assert today == {
        "time_zone": "UTC",
        "offered": 5,
        "answered": 3,
        "answered_within_threshold": 2,
        "abandoned": 1,
        "short_abandoned": 1,
        "overflowed": 1,
        "service_level": 40.0,
        "asa_seconds": 20.0,
        "abandon_rate": 20.0,
    }


async def test_every_abandon_counts_by_default(client, owner, platform, tenant_id):
    queue = await create_queue(client, owner.headers)
    await seed_day(platform, tenant_id, queue["id"])
    today = (await client.get(f"{BASE}/{queue['id']}/live", headers=owner.headers)).json()["today"]
    assert (today["offered"], today["abandoned"], today["short_abandoned"]) == (6, 2, 0)
    assert today["service_level"] == round(100 * 2 / 6, 1)
    assert today["abandon_rate"] == round(100 * 2 / 6, 1)


async def test_a_quiet_queue_has_no_rates_yet(client, owner):
    queue = await create_queue(client, owner.headers)
    live = (await client.get(f"{BASE}/{queue['id']}/live", headers=owner.headers)).json()
    assert live["calls"] == []
    assert (live["waiting"], live["oldest_wait_seconds"]) == (0, 0.0)
    assert live["today"]["offered"] == 0
    assert live["today"]["service_level"] is None
    assert live["today"]["asa_seconds"] is None
    assert live["today"]["abandon_rate"] is None


async def test_today_is_the_organizations_day(client, owner, platform, tenant_id):
    zone = "Pacific/Kiritimati"  # UTC+14: its day is rarely UTC's
    changed = await client.patch("/api/v1/tenant", headers=owner.headers, json={"timezone": zone})
    assert changed.status_code == 200, changed.text
    queue = await create_queue(client, owner.headers)
    local_midnight = datetime.now(ZoneInfo(zone)).replace(hour=0, minute=0, second=0, microsecond=0)
    before = local_midnight - timedelta(minutes=1)
    await add_item(
        platform, tenant_id, queue["id"], status="completed", wait_seconds=3, entered_at=before
    )
    await add_item(
        platform,
        tenant_id,
        queue["id"],
        status="completed",
        wait_seconds=3,
        entered_at=local_midnight,
    )
    today = (await client.get(f"{BASE}/{queue['id']}/live", headers=owner.headers)).json()["today"]
    assert today["time_zone"] == zone
    assert today["day"] == local_midnight.date().isoformat()
    assert today["answered"] == 1


async def test_every_queue_at_once(client, owner, platform, tenant_id):
    ada = await add_agent(platform, tenant_id, "Ada")
    support = await create_queue(client, owner.headers, "Support", agent_ids=[str(ada)])
    sales = await create_queue(client, owner.headers, "Sales", service_level_target=70)
    await seed_day(platform, tenant_id, support["id"])
    await add_item(platform, tenant_id, sales["id"], entered_at=today_at(20))
    response = await client.get(f"{BASE}/live", headers=owner.headers)
    assert response.status_code == 200, response.text
    rows = response.json()
    assert [r["name"] for r in rows] == ["Sales", "Support"]
    sales_row, support_row = rows
    assert sales_row["waiting"] == 1
    assert sales_row["service_level_today"] is None
    assert sales_row["service_level_target"] == 70
    assert sales_row["agents"]["available"] == 0
    assert support_row["waiting"] == 4
    assert support_row["connected"] == 1
    assert support_row["agents"]["available"] == 1
    assert (
        support_row["offered_today"],
        support_row["answered_today"],
        support_row["abandoned_today"],
    ) == (6, 3, 2)


async def test_available_agents_per_queue(client, owner, platform, tenant_id):
    team = await add_team(platform, tenant_id, "Billing team")
    ada = await add_agent(platform, tenant_id, "Ada", skills={"billing": 5})
    await add_agent(platform, tenant_id, "Gina", skills={"billing": 2}, team_ids=[team])
    await add_agent(
        platform, tenant_id, "Hal", skills={"billing": 9}, team_ids=[team], state="on_call"
    )
    both = await add_agent(platform, tenant_id, "Ivy", skills={"billing": 3}, team_ids=[team])
    await create_queue(
        client,
        owner.headers,
        "Billing",
        strategy="skills",
        required_skills=[{"skill": "billing", "min_level": 3}],
        agent_ids=[str(ada), str(both)],
        team_ids=[str(team)],
    )
    await create_queue(client, owner.headers, "Empty")
    response = await client.get(f"{BASE}/available-count", headers=owner.headers)
    assert response.status_code == 200, response.text
    assert [
        {k: r[k] for k in ("name", "members", "available", "qualified")} for r in response.json()
    ] == [
        {"name": "Billing", "members": 4, "available": 3, "qualified": 2},
        {"name": "Empty", "members": 0, "available": 0, "qualified": 0},
    ]


async def test_the_history_of_a_queues_calls(client, owner, platform, tenant_id):
    queue = await create_queue(client, owner.headers)
    start = utcnow() - timedelta(hours=2)
    ids = [
        await add_item(
            platform,
            tenant_id,
            queue["id"],
            status="completed" if n % 2 else "abandoned",
            wait_seconds=n,
            entered_at=start + timedelta(minutes=n),
        )
        for n in range(5)
    ]
    other = await create_queue(client, owner.headers, "Other")
    await add_item(platform, tenant_id, other["id"], status="completed", wait_seconds=1)
    url = f"{BASE}/{queue['id']}/calls"
    first = await client.get(url, headers=owner.headers, params={"limit": 3})
    assert first.status_code == 200, first.text
    assert [c["id"] for c in first.json()["items"]] == [str(i) for i in ids[:1:-1]]
    second = await client.get(
        url, headers=owner.headers, params={"limit": 3, "cursor": first.json()["next_cursor"]}
    )
    assert [c["id"] for c in second.json()["items"]] == [str(ids[1]), str(ids[0])]
    assert second.json()["next_cursor"] is None
    record = second.json()["items"][0]
    assert (record["status"], record["wait_seconds"], record["kind"]) == ("completed", 1.0, "call")
    assert record["answered_at"] is not None

    abandoned = await client.get(url, headers=owner.headers, params={"status": "abandoned"})
    assert [c["id"] for c in abandoned.json()["items"]] == [str(ids[4]), str(ids[2]), str(ids[0])]
    both = await client.get(
        url, headers=owner.headers, params=[("status", "abandoned"), ("status", "completed")]
    )
    assert len(both.json()["items"]) == 5
    window = await client.get(
        url,
        headers=owner.headers,
        params={
            "from": (start + timedelta(minutes=1)).isoformat(),
            "to": (start + timedelta(minutes=3)).isoformat(),
        },
    )
    assert [c["id"] for c in window.json()["items"]] == [str(ids[2]), str(ids[1])]
    wrong = await client.get(url, headers=owner.headers, params={"status": "lost"})
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["loc"] == ["query", "status", 0]


async def test_stats_are_published_with_todays_figures(client, owner, platform, tenant_id):
    ada = await add_agent(platform, tenant_id, "Ada")
    queue = await create_queue(client, owner.headers, agent_ids=[str(ada)])
    await seed_day(platform, tenant_id, queue["id"])
    queue_id = uuid.UUID(queue["id"])
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            await publish_stats(platform, session, queue_id)
            await publish_stats(platform, session, uuid.uuid4())  # gone: nothing published
            await session.commit()
    stats = [
        p for name, p in await published_events(platform, tenant_id) if name == "queues.queue.stats"
    ]
    assert len(stats) == 1
    payload = stats[0]
    assert 99 <= payload.pop("oldest_wait_seconds") <= 130
    payload.pop("at")
    assert payload == {
        "queue_id": queue["id"],
        "waiting": 4,
        "agents": {
            "offline": 0,
            "available": 1,
            "reserved": 0,
            "on_call": 0,
            "wrap_up": 0,
            "away": 0,
        },
        "offered_today": 6,
        "answered_today": 3,
        "abandoned_today": 2,
        "service_level_today": round(100 * 2 / 6, 1),
    }
