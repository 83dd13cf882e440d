"""Queues through the API as an administrator's screen uses them: create with members and
every setting, read, list, change with If-Match, delete (refused while something uses the
queue), and who may do what."""

from __future__ import annotations

import uuid

from queues_helpers import BASE, add_agent, add_item, add_team, create_queue, published_flow
from sqlalchemy import select

from kernel import tenant_scope
from kernel.testing import audit_events
from plugins.calls import PhoneNumber
from plugins.queues import ItemStatus


async def test_a_queue_is_created_with_its_members_and_settings(client, owner, platform, tenant_id):
    ada = await add_agent(platform, tenant_id, "Ada", skills={"billing": 5})
    bob = await add_agent(platform, tenant_id, "Bob")
    team = await add_team(platform, tenant_id, "Tier 2", [bob])
    backup = await create_queue(client, owner.headers, "Backup")
    body = {
        "name": "  Billing  ",
        "description": "Invoices and refunds",
        "strategy": "skills",
        "required_skills": [{"skill": "billing", "min_level": 3}],
        "relax_skills_after_seconds": 60,
        "priority": 5,
        "service_level_seconds": 30,
        "service_level_target": 90,
        "max_wait_seconds": 300,
        "max_size": 20,
        "overflow": {"kind": "queue", "queue_id": backup["id"]},
        "greeting": "Thank you for calling billing.",
        "announce_every_seconds": 45,
        "announce_position": True,
        "announce_wait": False,
        "music_url": "https://cdn.example.com/hold.mp3",
        "callback_enabled": True,
        "callback_key": "#",
        "wrap_up_seconds": 15,
        "offer_timeout_seconds": 25,
        "agent_ids": [str(ada), str(ada)],
        "team_ids": [str(team)],
    }
    response = await client.post(BASE, headers=owner.headers, json=body)
    assert response.status_code == 201, response.text
    queue = response.json()
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"{BASE}/{queue['id']}"
    expected = body | {
        "name": "Billing",
        "agent_ids": [str(ada)],
        "team_ids": [str(team)],
        "overflow": {
            "kind": "queue",
            "queue_id": backup["id"],
            "flow_id": None,
            "node_id": None,
            "message": None,
        },
        "active": True,
        "version": 1,
    }
    assert {k: queue[k] for k in expected} == expected

    fetched = await client.get(f"{BASE}/{queue['id']}", headers=owner.headers)
    assert fetched.status_code == 200
    assert fetched.headers["ETag"] == '"1"'
    assert fetched.json() == queue


async def test_defaults_are_those_of_a_plain_queue(client, owner):
    queue = await create_queue(client, owner.headers, "Plain")
    assert {
        k: queue[k]
        for k in (
            "strategy",
            "required_skills",
            "service_level_seconds",
            "service_level_target",
            "max_wait_seconds",
            "max_size",
            "overflow",
            "announce_every_seconds",
            "callback_enabled",
            "callback_key",
            "active",
            "agent_ids",
            "team_ids",
        )
    } == {
        "strategy": "longest_idle",
        "required_skills": [],
        "service_level_seconds": 20,
        "service_level_target": 80,
        "max_wait_seconds": None,
        "max_size": None,
        "overflow": None,
        "announce_every_seconds": 30,
        "callback_enabled": False,
        "callback_key": "1",
        "active": True,
        "agent_ids": [],
        "team_ids": [],
    }


async def test_queues_are_listed_by_name_a_page_at_a_time(client, owner):
    for name in ("Sales", "Billing", "Support", "Archive"):
        await create_queue(client, owner.headers, name, active=name != "Archive")
    first = await client.get(BASE, headers=owner.headers, params={"limit": 2})
    assert [q["name"] for q in first.json()["items"]] == ["Archive", "Billing"]
    second = await client.get(
        BASE, headers=owner.headers, params={"limit": 2, "cursor": first.json()["next_cursor"]}
    )
    assert [q["name"] for q in second.json()["items"]] == ["Sales", "Support"]
    assert second.json()["next_cursor"] is None
    active = await client.get(BASE, headers=owner.headers, params={"active": "false"})
    assert [q["name"] for q in active.json()["items"]] == ["Archive"]
    found = await client.get(BASE, headers=owner.headers, params={"q": "su"})
    assert [q["name"] for q in found.json()["items"]] == ["Support"]
    wildcard = await client.get(BASE, headers=owner.headers, params={"q": "%"})
    assert wildcard.json()["items"] == []


async def test_a_change_needs_the_current_version(client, owner):
    queue = await create_queue(client, owner.headers)
    url = f"{BASE}/{queue['id']}"
    changed = await client.patch(
        url, headers={**owner.headers, "If-Match": '"1"'}, json={"max_size": 5, "priority": 2}
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] == '"2"'
    assert (changed.json()["max_size"], changed.json()["version"]) == (5, 2)

    stale = await client.patch(
        url, headers={**owner.headers, "If-Match": '"1"'}, json={"max_size": 6}
    )
    assert stale.status_code == 412
    assert stale.json()["type"] == "/problems/queues-queue-changed"
    assert stale.json()["current_version"] == 2
    weak = await client.patch(
        url, headers={**owner.headers, "If-Match": 'W/"2"'}, json={"max_size": None}
    )
    assert weak.status_code == 200
    assert weak.json()["max_size"] is None
    nothing = await client.patch(url, headers=owner.headers, json={})
    assert nothing.json()["version"] == 3  # an empty change changes nothing
    gone = await client.delete(url, headers={**owner.headers, "If-Match": '"1"'})
    assert gone.status_code == 412


async def test_members_are_replaced_by_a_change(client, owner, platform, tenant_id):
    ada = await add_agent(platform, tenant_id, "Ada")
    bob = await add_agent(platform, tenant_id, "Bob")
    team = await add_team(platform, tenant_id, "Night")
    queue = await create_queue(client, owner.headers, agent_ids=[str(ada)], team_ids=[str(team)])
    url = f"{BASE}/{queue['id']}"
    swapped = await client.patch(url, headers=owner.headers, json={"agent_ids": [str(bob)]})
    assert swapped.json()["agent_ids"] == [str(bob)]
    assert swapped.json()["team_ids"] == [str(team)]  # not sent: unchanged
    cleared = await client.patch(url, headers=owner.headers, json={"team_ids": []})
    assert cleared.json()["team_ids"] == []
    renamed = await client.patch(url, headers=owner.headers, json={"name": "Renamed"})
    assert renamed.json()["agent_ids"] == [str(bob)]


async def test_names_are_unique_in_the_organization(client, owner, kraliki_make_owner):
    await create_queue(client, owner.headers, "Support")
    again = await client.post(BASE, headers=owner.headers, json={"name": "Support"})
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/queues-queue-exists"
    other = await create_queue(client, owner.headers, "Other")
    renamed = await client.patch(
        f"{BASE}/{other['id']}", headers=owner.headers, json={"name": "Support"}
    )
    assert renamed.status_code == 409
    beta = await kraliki_make_owner("beta")
    assert (
        await client.post(BASE, headers=beta.headers, json={"name": "Support"})
    ).status_code == 201


async def test_a_queue_is_deleted_when_nothing_uses_it(client, owner, platform, tenant_id):
    queue = await create_queue(client, owner.headers)
    await add_item(platform, tenant_id, queue["id"], status=ItemStatus.COMPLETED, wait_seconds=3)
    gone = await client.delete(
        f"{BASE}/{queue['id']}", headers={**owner.headers, "If-Match": '"1"'}
    )
    assert gone.status_code == 204
    assert (await client.get(f"{BASE}/{queue['id']}", headers=owner.headers)).status_code == 404
    audited = await audit_events(platform, tenant_id, "queues.queue_deleted")
    assert [entry.target_id for entry in audited] == [queue["id"]]


async def test_a_queue_in_use_is_not_deleted(client, owner, platform, tenant_id):
    queue = await create_queue(client, owner.headers, "Support")
    await create_queue(
        client, owner.headers, "Sales", overflow={"kind": "queue", "queue_id": queue["id"]}
    )
    flow = {
        "start": "line",
        "nodes": {"line": {"type": "hangup", "message": "Bye.", "queue_id": queue["id"]}},
    }
    created = await client.post(
        "/api/v1/ivr/flows", headers=owner.headers, json={"name": "Front", "draft": flow}
    )
    assert created.status_code == 201, created.text
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            session.add(
                PhoneNumber(
                    number="+14155550100",
                    provider="loopback",
                    route="queues",
                    ivr_flow_id=uuid.UUID(queue["id"]),
                )
            )
            await session.commit()
    item = await add_item(platform, tenant_id, queue["id"])

    refused = await client.delete(f"{BASE}/{queue['id']}", headers=owner.headers)
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["type"] == "/problems/queues-queue-in-use"
    assert problem["used_by"] == [
        "1 call(s) waiting or being served",
        "number +14155550100",
        "flow Front node line",
        "queue Sales (overflow)",
    ]
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            from plugins.queues import QueueItem

            row = await session.scalar(select(QueueItem).where(QueueItem.id == item))
            assert row is not None


async def test_who_may_read_and_who_may_change(client, owner, as_role):
    queue = await create_queue(client, owner.headers)
    url = f"{BASE}/{queue['id']}"
    for role in ("agent", "supervisor", "integrator"):
        headers = await as_role(role)
        assert (await client.get(url, headers=headers)).status_code == 200, role
        assert (await client.get(f"{url}/live", headers=headers)).status_code == 200, role
        changed = await client.patch(url, headers=headers, json={"priority": 1})
        assert changed.status_code == 403, role
        assert (await client.post(BASE, headers=headers, json={"name": role})).status_code == 403
    admin = await as_role("admin")
    assert (await client.patch(url, headers=admin, json={"priority": 1})).status_code == 200
    assert (await client.get(url)).status_code == 401


async def test_an_unknown_queue_is_a_404_problem(client, owner):
    url = f"{BASE}/{uuid.uuid4()}"
    for method in ("GET", "PATCH", "DELETE"):
        body = {} if method == "PATCH" else None
        response = await client.request(method, url, headers=owner.headers, json=body)
        assert response.status_code == 404, method
        assert response.json()["type"] == "/problems/queues-queue-not-found"
    for suffix in ("/live", "/calls"):
        response = await client.get(url + suffix, headers=owner.headers)
        assert response.json()["type"] == "/problems/queues-queue-not-found"


async def test_an_ivr_node_is_an_overflow_target(client, owner):
    flow_id = await published_flow(client, owner.headers)
    overflow = {"kind": "ivr", "flow_id": flow_id, "node_id": "sorry"}
    queue = await create_queue(client, owner.headers, overflow=overflow)
    assert queue["overflow"] == overflow | {"queue_id": None, "message": None}
    spoken = {"kind": "hangup", "message": "We are closed. Goodbye."}
    changed = await client.patch(
        f"{BASE}/{queue['id']}", headers=owner.headers, json={"overflow": spoken}
    )
    assert changed.json()["overflow"]["message"] == "We are closed. Goodbye."
    voicemail = await client.patch(
        f"{BASE}/{queue['id']}", headers=owner.headers, json={"overflow": {"kind": "voicemail"}}
    )
    assert voicemail.json()["overflow"]["kind"] == "voicemail"
    cleared = await client.patch(
        f"{BASE}/{queue['id']}", headers=owner.headers, json={"overflow": None}
    )
    assert cleared.json()["overflow"] is None


async def test_a_required_skill_without_a_level_takes_the_lowest(client, owner):
    """A nested model's defaults are part of what the client sent (a skill without
    ``min_level`` once reached the service without it and failed)."""
    body = {"name": "Levels", "required_skills": [{"skill": "billing"}, {"skill": "fr"}]}
    created = await client.post(BASE, headers=owner.headers, json=body)
    assert created.status_code == 201, created.text
    assert created.json()["required_skills"] == [
        {"skill": "billing", "min_level": 1},
        {"skill": "fr", "min_level": 1},
    ]
    changed = await client.patch(
        f"{BASE}/{created.json()['id']}",
        headers=owner.headers | {"If-Match": created.headers["ETag"]},
        json={"required_skills": [{"skill": "de"}]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["required_skills"] == [{"skill": "de", "min_level": 1}]
