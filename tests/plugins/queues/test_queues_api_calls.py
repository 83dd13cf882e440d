"""A supervisor moves a waiting call to another queue or takes it out: the old item ends,
an agent being rung for it is released, the move keeps the caller's place, and both are
audited and published."""

from __future__ import annotations

import uuid
from datetime import timedelta

from queues_helpers import BASE, add_agent, add_item, create_queue
from sqlalchemy import select

from kernel import tenant_scope, utcnow
from kernel.testing import audit_events, published_events
from plugins.agents import Agent, AgentState
from plugins.queues import ItemStatus, Offer, OfferStatus, QueueItem


async def _row(platform, tenant_id, model, row_id):
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            return await session.scalar(select(model).where(model.id == row_id))


async def test_a_waiting_call_moves_and_keeps_its_place(client, owner, platform, tenant_id):
    support = await create_queue(client, owner.headers, "Support")
    sales = await create_queue(
        client,
        owner.headers,
        "Sales",
        required_skills=[{"skill": "sales", "min_level": 2}],
        max_wait_seconds=120,
    )
    entered = utcnow() - timedelta(minutes=3)
    call_id = uuid.uuid4()
    item_id = await add_item(
        platform,
        tenant_id,
        support["id"],
        entered_at=entered,
        call_id=call_id,
        priority=2,
        context={"ivr_path": ["menu"]},
    )
    await add_item(platform, tenant_id, sales["id"], entered_at=utcnow() - timedelta(minutes=1))
    response = await client.post(
        f"{BASE}/calls/{item_id}/move", headers=owner.headers, json={"queue_id": sales["id"]}
    )
    assert response.status_code == 200, response.text
    moved = response.json()
    assert moved["id"] != str(item_id)
    assert (moved["queue_id"], moved["status"], moved["call_id"]) == (
        sales["id"],
        "waiting",
        str(call_id),
    )
    new = await _row(platform, tenant_id, QueueItem, uuid.UUID(moved["id"]))
    assert new.entered_at == entered
    assert new.priority == 2
    assert new.required_skills == [{"skill": "sales", "min_level": 2}]
    assert new.context == {"ivr_path": ["menu"], "moved_from": support["id"]}
    assert new.deadline_at is not None
    old = await _row(platform, tenant_id, QueueItem, item_id)
    assert (old.status, old.outcome) == (ItemStatus.CANCELLED.value, "moved")
    assert old.ended_at is not None

    live = (await client.get(f"{BASE}/{sales['id']}/live", headers=owner.headers)).json()
    assert live["calls"][0]["item_id"] == moved["id"]  # it waited longest
    events = await published_events(platform, tenant_id)
    names = [name for name, _payload in events]
    assert "queues.call.moved" in names
    moved_event = next(p for n, p in events if n == "queues.call.moved")
    assert moved_event["item_id"] == str(item_id)
    assert moved_event["to_queue_id"] == sales["id"]
    assert moved_event["status"] == "cancelled"
    enqueued = next(p for n, p in events if n == "queues.call.enqueued")
    assert (enqueued["item_id"], enqueued["position"]) == (moved["id"], 1)
    stats = [p["queue_id"] for n, p in events if n == "queues.queue.stats"]
    assert sorted(stats) == sorted([support["id"], sales["id"]])
    audited = await audit_events(platform, tenant_id, "queues.call_moved")
    assert [entry.target_id for entry in audited] == [str(item_id)]


async def test_moving_an_offered_call_releases_the_agent(client, owner, platform, tenant_id):
    support = await create_queue(client, owner.headers, "Support")
    sales = await create_queue(client, owner.headers, "Sales")
    agent_id = await add_agent(platform, tenant_id, "Ada", state=AgentState.RESERVED)
    item_id = await add_item(platform, tenant_id, support["id"], status="offered", offers=1)
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            offer = Offer(
                item_id=item_id,
                queue_id=uuid.UUID(support["id"]),
                agent_id=agent_id,
                status=OfferStatus.RINGING.value,
                expires_at=utcnow() + timedelta(seconds=20),
            )
            session.add(offer)
            await session.commit()
            offer_id = offer.id
    response = await client.post(
        f"{BASE}/calls/{item_id}/move", headers=owner.headers, json={"queue_id": sales["id"]}
    )
    assert response.status_code == 200, response.text
    offer_row = await _row(platform, tenant_id, Offer, offer_id)
    assert offer_row.status == OfferStatus.WITHDRAWN.value
    agent = await _row(platform, tenant_id, Agent, agent_id)
    assert agent.state == AgentState.AVAILABLE.value


async def test_what_cannot_be_moved(client, owner, platform, tenant_id):
    support = await create_queue(client, owner.headers, "Support")
    closed = await create_queue(client, owner.headers, "Closed", active=False)
    waiting = await add_item(platform, tenant_id, support["id"])
    talking = await add_item(platform, tenant_id, support["id"], status="connected", wait_seconds=4)
    url = f"{BASE}/calls/{{}}/move"

    unknown = await client.post(
        url.format(uuid.uuid4()), headers=owner.headers, json={"queue_id": closed["id"]}
    )
    assert unknown.status_code == 404
    assert unknown.json()["type"] == "/problems/queues-call-not-found"
    taken = await client.post(
        url.format(talking), headers=owner.headers, json={"queue_id": closed["id"]}
    )
    assert taken.status_code == 409
    assert (taken.json()["type"], taken.json()["call_status"]) == (
        "/problems/queues-call-not-waiting",
        "connected",
    )
    for target, message in [
        (support["id"], "the call is in this queue already"),
        (closed["id"], "the queue is inactive"),
        (str(uuid.uuid4()), "no queue of the organization has this id"),
    ]:
        refused = await client.post(
            url.format(waiting), headers=owner.headers, json={"queue_id": target}
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["type"] == "/problems/queues-move-invalid"
        assert [(e["loc"], e["message"]) for e in refused.json()["errors"]] == [
            (["body", "queue_id"], message)
        ]
    malformed = await client.post(url.format(waiting), headers=owner.headers, json={})
    assert malformed.json()["errors"][0]["loc"] == ["body", "queue_id"]
    still = await _row(platform, tenant_id, QueueItem, waiting)
    assert still.status == ItemStatus.WAITING.value


async def test_a_waiting_call_is_taken_out(client, owner, platform, tenant_id, as_role):
    support = await create_queue(client, owner.headers, "Support")
    item_id = await add_item(platform, tenant_id, support["id"], kind="callback")
    agent = await as_role("agent")
    forbidden = await client.delete(f"{BASE}/calls/{item_id}", headers=agent)
    assert forbidden.status_code == 403
    supervisor = await as_role("supervisor")
    response = await client.delete(f"{BASE}/calls/{item_id}", headers=supervisor)
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["outcome"]) == ("cancelled", "removed")
    again = await client.delete(f"{BASE}/calls/{item_id}", headers=supervisor)
    assert again.status_code == 409
    events = await published_events(platform, tenant_id)
    removed = next(p for n, p in events if n == "queues.call.moved")
    assert (removed["item_id"], removed["to_queue_id"], removed["kind"]) == (
        str(item_id),
        None,
        "callback",
    )
    audited = await audit_events(platform, tenant_id, "queues.call_removed")
    assert [entry.target_id for entry in audited] == [str(item_id)]
    live = (await client.get(f"{BASE}/{support['id']}/live", headers=owner.headers)).json()
    assert live["waiting"] == 0


async def _offer(platform, tenant_id, queue_id, item_id, agent_id):
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            offer = Offer(
                item_id=item_id,
                queue_id=uuid.UUID(queue_id),
                agent_id=agent_id,
                status=OfferStatus.RINGING.value,
                expires_at=utcnow() + timedelta(seconds=20),
            )
            session.add(offer)
            await session.commit()
            return offer.id


async def test_an_offered_call_moved_to_an_agent_waits_for_them(client, owner, platform, tenant_id):
    support = await create_queue(client, owner.headers, "Support")
    ringing = await add_agent(platform, tenant_id, "Ada", state=AgentState.RESERVED)
    chosen = await add_agent(platform, tenant_id, "Bo", state=AgentState.ON_CALL)
    item_id = await add_item(platform, tenant_id, support["id"], status="offered", offers=1)
    offer_id = await _offer(platform, tenant_id, support["id"], item_id, ringing)
    response = await client.post(
        f"{BASE}/calls/{item_id}/move", headers=owner.headers, json={"agent_id": str(chosen)}
    )
    assert response.status_code == 200, response.text
    moved = response.json()
    assert (moved["id"], moved["queue_id"], moved["status"], moved["target_agent_id"]) == (
        str(item_id),
        support["id"],
        "waiting",
        str(chosen),
    )
    assert (await _row(platform, tenant_id, Offer, offer_id)).status == "withdrawn"
    assert (await _row(platform, tenant_id, Agent, ringing)).state == "available"
    item = await _row(platform, tenant_id, QueueItem, item_id)
    assert (item.status, item.target_agent_id) == ("waiting", chosen)
    events = await published_events(platform, tenant_id)
    moved_event = next(p for n, p in events if n == "queues.call.moved")
    assert (moved_event["to_agent_id"], moved_event["to_queue_id"]) == (
        str(chosen),
        support["id"],
    )
    [audited] = await audit_events(platform, tenant_id, "queues.call_moved")
    assert audited.target_id == str(item_id)
    assert audited.details["to_agent_id"] == str(chosen)


async def test_what_cannot_be_moved_to_an_agent(
    client, owner, platform, tenant_id, kraliki_make_owner
):
    support = await create_queue(client, owner.headers, "Support")
    sales = await create_queue(client, owner.headers, "Sales")
    waiting = await add_item(platform, tenant_id, support["id"])  # a loopback call
    on_phone = await add_item(platform, tenant_id, support["id"], provider="twilio")
    retired = await add_agent(platform, tenant_id, "Old", active=False)
    bot = await add_agent(platform, tenant_id, "Bot", reach_kind="loopback")
    other = await kraliki_make_owner("globex")
    theirs = await add_agent(platform, other.tenant_id, "Theirs")
    url = f"{BASE}/calls/{{}}/move"
    unknown = "no agent of the organization has this id"
    neither = "give queue_id (another queue) or agent_id (one agent)"
    cases = [
        (waiting, {"agent_id": str(theirs)}, "agent_id", unknown),
        (waiting, {"agent_id": str(uuid.uuid4())}, "agent_id", unknown),
        (waiting, {"agent_id": str(retired)}, "agent_id", "the agent is inactive"),
        (
            on_phone,
            {"agent_id": str(bot)},
            "agent_id",
            "a loopback agent takes loopback calls only",
        ),
        (
            waiting,
            {"agent_id": str(bot), "queue_id": sales["id"]},
            "agent_id",
            "give queue_id or agent_id, not both",
        ),
        (waiting, {}, "queue_id", neither),
        (waiting, {"queue_id": None, "agent_id": None}, "queue_id", neither),
    ]
    for item, body, field, message in cases:
        refused = await client.post(url.format(item), headers=owner.headers, json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["type"] == "/problems/queues-move-invalid"
        [error] = refused.json()["errors"]
        assert error["loc"] == ["body", field], body
        assert error["message"] == message, body
    for item in (waiting, on_phone):
        still = await _row(platform, tenant_id, QueueItem, item)
        assert (still.status, still.target_agent_id) == ("waiting", None)
    assert await audit_events(platform, tenant_id, "queues.call_moved") == []
