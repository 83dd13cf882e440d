"""Recent activity (the tenant's last notable events, newest first, only the types the
reader may see) and the alerts' history (cursor pages, filters), through HTTP."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from supervisor_dash_helpers import (
    DASHBOARD,
    RULES,
    add_item,
    create_agent,
    create_queue,
    force_state,
    ok,
    until_alerts,
)

from kernel import utcnow


async def activity(client, headers, limit: int = 50) -> list[dict]:  # type: ignore[no-untyped-def]
    page = await ok(
        await client.get(f"{DASHBOARD}/activity", headers=headers, params={"limit": limit})
    )
    return list(page["items"])


async def test_recent_activity_is_newest_first_and_shows_what_the_reader_may_read(
    kraliki_client, kraliki_make_owner, kraliki_platform, kraliki_app, kraliki_authenticate
):
    client, owner = kraliki_client, await kraliki_make_owner("acme")
    beta = await kraliki_make_owner("beta")
    ada = await create_agent(client, owner.headers, "Ada")
    await force_state(client, owner.headers, ada, "available")
    await force_state(client, owner.headers, ada, "away")
    queue_id = await create_queue(client, owner.headers)
    await add_item(
        kraliki_platform,
        owner.tenant_id,
        queue_id,
        status="waiting",
        entered_at=utcnow() - timedelta(seconds=120),
    )
    body = {"name": "Wait", "kind": "queue_longest_wait", "threshold": 60}
    rule = await ok(await client.post(RULES, headers=owner.headers, json=body), 201)
    await until_alerts(client, owner.headers, rule["id"], 1)

    items: list[dict] = []  # type: ignore[type-arg]

    async def three() -> bool:  # the dispatcher has stored the alert's event
        nonlocal items
        items = await activity(client, owner.headers)
        return len(items) >= 3

    async with asyncio.timeout(15):
        while not await three():  # noqa: ASYNC110 - polling the API
            await asyncio.sleep(0.05)
    assert [e["type"] for e in items] == [
        "supervisor.alert.raised",
        "agents.agent.state_changed",
        "agents.agent.state_changed",
    ]
    assert [e["data"]["to_state"] for e in items[1:]] == ["away", "available"]
    positions = [e["position"] for e in items]
    assert positions == sorted(positions, reverse=True)
    assert items[0]["data"]["rule_id"] == rule["id"]
    assert [e["type"] for e in await activity(client, owner.headers, limit=1)] == [
        "supervisor.alert.raised"
    ]
    # Another organization's activity holds none of it.
    assert await activity(client, beta.headers) == []

    # A reader of the dashboard who may not read agents sees the alert only.
    kraliki_authenticate(kraliki_app, "dashboard:read", kind="user", tenant_id=owner.tenant_id)
    assert [e["type"] for e in await activity(client, {})] == ["supervisor.alert.raised"]


async def test_the_history_of_alerts_pages_and_filters(
    kraliki_client, kraliki_make_owner, kraliki_platform
):
    client, platform, owner = kraliki_client, kraliki_platform, await kraliki_make_owner("acme")
    items = []
    for name in ("One", "Two", "Three"):
        queue_id = await create_queue(client, owner.headers, name)
        items.append(
            await add_item(
                platform,
                owner.tenant_id,
                queue_id,
                status="waiting",
                entered_at=utcnow() - timedelta(seconds=120),
            )
        )
    body = {"name": "Wait", "kind": "queue_longest_wait", "threshold": 60}
    rule = await ok(await client.post(RULES, headers=owner.headers, json=body), 201)
    await until_alerts(client, owner.headers, rule["id"], 3)
    taken = await client.delete(f"/api/v1/queues/calls/{items[0]}", headers=owner.headers)
    assert taken.status_code in (200, 204), taken.text
    await until_alerts(client, owner.headers, rule["id"], 2)

    path = f"{DASHBOARD}/alerts/history"
    first = await ok(await client.get(path, headers=owner.headers, params={"limit": 2}))
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    second = await ok(
        await client.get(
            path, headers=owner.headers, params={"limit": 2, "cursor": first["next_cursor"]}
        )
    )
    assert len(second["items"]) == 1
    assert second["next_cursor"] is None
    every = first["items"] + second["items"]
    assert len({a["id"] for a in every}) == 3
    stamps = [(a["raised_at"], a["id"]) for a in every]
    assert stamps == sorted(stamps, reverse=True)

    cleared = await ok(await client.get(path, headers=owner.headers, params={"status": "cleared"}))
    assert [a["subject_name"] for a in cleared["items"]] == ["One"]
    raised = await ok(await client.get(path, headers=owner.headers, params={"status": "raised"}))
    assert sorted(a["subject_name"] for a in raised["items"]) == ["Three", "Two"]
    other = await ok(await client.get(path, headers=owner.headers, params={"kind": "agent_break"}))
    assert other["items"] == []
    later = (utcnow() + timedelta(minutes=1)).isoformat()
    assert (await ok(await client.get(path, headers=owner.headers, params={"since": later})))[
        "items"
    ] == []
    bad = await client.get(path, headers=owner.headers, params={"kind": "nonsense"})
    assert bad.status_code == 422
