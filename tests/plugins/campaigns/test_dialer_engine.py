"""The dialing engine's own guarantees, its job handler run directly with a fixed clock
(Wednesday noon in Los Angeles) and the calls plugin's ``place_call`` replaced by a recorder
(the loopback end to end is ``test_agentless_loopback.py``): the calls plugin's limits
leave an attempt not placed and uncounted, a dead worker's attempt is lost and retried,
an outcome delivered twice counts once, and (PostgreSQL) runs at once never dial a contact
twice nor exceed the campaign's lines."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from campaigns_helpers import BASE, create

from kernel import DeliveredEvent, ProblemError, ProblemType, tenant_scope
from plugins.calls import Call, MachineDetection
from plugins.campaigns.dialer import dial
from plugins.campaigns.dialer import engine as engine_module
from plugins.campaigns.dialer.outcomes import on_events

NOON_LA = datetime(2027, 3, 3, 20, 0, tzinfo=UTC)
TOO_MANY = ProblemType("calls-concurrency-limit", "Too many concurrent calls", 429, "test")


@pytest.fixture(autouse=True)
def no_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """No background job may dial with the real clock meanwhile."""
    monkeypatch.setenv("KRALIKI_BACKGROUND_WORKERS", "false")


class Placer:
    """Stands in for the calls plugin's ``place_call``: records each request, commits as
    it does, answers with a new call id (or raises ``error``)."""

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.error: Exception | None = None
        self.create_call_first = False
        """Commit the call's row (as the calls plugin does first) before raising ``error``."""
        self.created: list[str] = []
        self.clock = NOON_LA

    async def __call__(self, platform: Any, session: Any, request: Any) -> SimpleNamespace:
        await asyncio.sleep(0)  # let concurrent runs interleave
        if self.create_call_first:
            call = Call(
                id=uuid.uuid4(),
                direction="outbound",
                from_number=request.from_number,
                to_number=request.to_number,
                provider="loopback",
                status="queued",
                attributes=request.metadata,
                placed_by=request.placed_by,
                created_at=self.clock,  # the calls plugin's clock is the run's
            )
            session.add(call)
            await session.commit()
            self.created.append(str(call.id))
        if self.error is not None:
            raise self.error
        self.requests.append(request)
        await session.commit()
        return SimpleNamespace(id=uuid.uuid4())


@pytest.fixture
def placer(monkeypatch: pytest.MonkeyPatch) -> Placer:
    fake = Placer()
    monkeypatch.setattr(engine_module, "place_call", fake)
    return fake


async def agentless(client, world, contact_ids: list[str], **fields: Any) -> str:
    body = {
        "name": "Reminders",
        "mode": "agentless",
        "source": {"kind": "list", "contact_ids": contact_ids},
        "flow_id": world.flow_id,
        "caller_id": "+14155550100",
        "consent_purpose": "informational",
        "schedule": {
            "time_zone": "America/Los_Angeles",
            "hours": [{"start": "09:00", "end": "17:00"}],
        },
        **fields,
    }
    campaign = await create(client, world, body)
    started = await client.post(f"{BASE}/{campaign['id']}/activate", headers=world.headers)
    assert started.status_code == 200, started.text
    return str(campaign["id"])


async def run(platform, owner, now: datetime) -> datetime | None:
    with tenant_scope(owner.tenant_id):
        return await dial(platform, owner.tenant_id, now=now)


async def attempts(client, world, campaign_id: str, **filters: Any) -> list[dict[str, Any]]:
    response = await client.get(
        f"{BASE}/{campaign_id}/attempts", headers=world.headers, params=filters
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def progress(client, world, campaign_id: str) -> dict[str, Any]:
    response = await client.get(f"{BASE}/{campaign_id}", headers=world.headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()["progress"]
    return found


async def test_the_lines_bound_the_calls_in_flight_and_the_rest_wait(
    client, world, owner, platform, placer
):
    campaign_id = await agentless(client, world, world.contact_ids, lines=2)
    before = await progress(client, world, campaign_id)
    assert before["contacts"]["pending"] == 3
    due = await run(platform, owner, NOON_LA)
    assert [r.to_number for r in placer.requests] == ["+14155551000", "+14155551001"]
    first = placer.requests[0]
    assert (first.from_number, first.handler, first.handler_target) == (
        "+14155550100",
        "ivr",
        world.flow_id,
    )
    assert (first.detection, first.timeout_seconds) == (MachineDetection.DETECT, 25)
    assert first.metadata["campaign_id"] == campaign_id
    assert due is None  # every line busy: an attempt's end wakes the dialer
    now = await progress(client, world, campaign_id)
    assert (now["contacts"]["dialing"], now["contacts"]["pending"]) == (2, 1)
    assert [a["status"] for a in await attempts(client, world, campaign_id)] == ["placed"] * 2


async def test_resuming_keeps_the_roster_and_adds_the_segments_newcomers(
    client, world, owner, platform, placer
):
    campaign_id = await agentless(
        client, world, [], source={"kind": "segment", "segment_id": world.segment_id}, lines=1
    )
    progressive = await create(
        client,
        world,
        {
            "name": "Agents",
            "mode": "progressive",
            "source": {"kind": "segment", "segment_id": world.segment_id},
            "queue_id": world.queue_id,
            "caller_id": "+14155550100",
            "consent_purpose": "informational",
        },
    )
    started = await client.post(f"{BASE}/{progressive['id']}/activate", headers=world.headers)
    assert started.status_code == 200, started.text
    await run(platform, owner, NOON_LA)
    assert len(placer.requests) == 1  # one line; the agent mode has no pacer yet: skipped
    assert await attempts(client, world, progressive["id"]) == []
    paused = await client.post(f"{BASE}/{campaign_id}/deactivate", headers=world.headers)
    assert paused.status_code == 200, paused.text
    newcomer = await client.post(
        "/api/v1/contacts",
        headers=world.headers,
        json={"name": "Dana", "phones": ["+14155551009"], "tags": ["spring"]},
    )
    assert newcomer.status_code == 201, newcomer.text
    resumed = await client.post(f"{BASE}/{campaign_id}/activate", headers=world.headers)
    assert resumed.status_code == 200, resumed.text
    contacts = (await progress(client, world, campaign_id))["contacts"]
    assert (contacts["dialing"], contacts["pending"]) == (1, 3)  # kept, and Dana added


async def test_the_calls_plugins_limits_leave_the_attempt_not_placed_and_uncounted(
    client, world, owner, platform, placer
):
    campaign_id = await agentless(client, world, world.contact_ids[:1])
    placer.error = ProblemError(TOO_MANY, "the organization's limit")
    due = await run(platform, owner, NOON_LA)
    [refused] = await attempts(client, world, campaign_id)
    assert (refused["allowed"], refused["status"], refused["outcome"]) == (
        True,
        "not_placed",
        None,
    )
    assert (await progress(client, world, campaign_id))["contacts"]["scheduled"] == 1
    assert due == NOON_LA + timedelta(seconds=30)  # shortly after
    placer.error = None
    await run(platform, owner, due + timedelta(minutes=1))
    placed, _ = await attempts(client, world, campaign_id)
    assert (placed["status"], placed["attempt_no"]) == ("placed", 1)


async def test_a_dead_workers_attempt_is_lost_and_retried_as_a_failure(
    client, world, owner, platform, placer
):
    campaign_id = await agentless(client, world, world.contact_ids[:1])
    placer.error = RuntimeError("the worker died while placing")
    with pytest.raises(RuntimeError):
        await run(platform, owner, NOON_LA)
    [stuck] = await attempts(client, world, campaign_id)
    assert (stuck["status"], stuck["call_id"]) == ("dialing", None)  # committed first
    await run(platform, owner, NOON_LA + timedelta(minutes=1))  # not yet lost
    assert (await attempts(client, world, campaign_id))[0]["status"] == "dialing"
    due = await run(platform, owner, NOON_LA + timedelta(minutes=3))
    [lost] = await attempts(client, world, campaign_id)
    assert (lost["status"], lost["outcome"]) == ("lost", "failed")
    # failed: one retry, an hour later (the default rules)
    assert due == NOON_LA + timedelta(minutes=63)
    placer.error = None
    await run(platform, owner, due)
    retried = await attempts(client, world, campaign_id)
    assert [(a["attempt_no"], a["status"]) for a in retried] == [(2, "placed"), (1, "lost")]


async def test_a_call_placed_by_a_worker_that_died_before_recording_it_is_not_lost(
    client, world, owner, platform, placer
):
    campaign_id = await agentless(client, world, world.contact_ids[:1])
    placer.error = RuntimeError("the worker died once the call was created")
    placer.create_call_first = True
    with pytest.raises(RuntimeError):
        await run(platform, owner, NOON_LA)
    [stuck] = await attempts(client, world, campaign_id)
    assert (stuck["status"], stuck["call_id"]) == ("dialing", None)
    await run(platform, owner, NOON_LA + timedelta(minutes=3))
    [found] = await attempts(client, world, campaign_id)
    assert (found["status"], found["call_id"]) == ("placed", placer.created[0])
    with tenant_scope(owner.tenant_id):  # its real outcome still ends it
        await on_events(platform, [delivered("calls.call.busy", found["call_id"])])
    [ended] = await attempts(client, world, campaign_id)
    assert (ended["status"], ended["outcome"]) == ("ended", "busy")


def delivered(name: str, call_id: str, **payload: Any) -> DeliveredEvent:
    return DeliveredEvent(
        id=uuid.uuid4(),
        tenant_id=uuid.uuid4(),
        name=name,
        version=1,
        occurred_at=NOON_LA + timedelta(seconds=30),
        aggregate=call_id,
        payload={"call_id": call_id, **payload},
        position=1,
    )


async def test_an_outcome_delivered_twice_counts_once(client, world, owner, platform, placer):
    campaign_id = await agentless(
        client,
        world,
        world.contact_ids[:1],
        retry={"busy": {"max_attempts": 1, "after_minutes": 5}},
    )
    await run(platform, owner, NOON_LA)
    [attempt] = await attempts(client, world, campaign_id)
    busy = delivered("calls.call.busy", attempt["call_id"])
    with tenant_scope(owner.tenant_id):
        await on_events(platform, [busy])
        await on_events(platform, [busy])
    [ended] = await attempts(client, world, campaign_id)
    assert (ended["status"], ended["outcome"]) == ("ended", "busy")
    assert (await progress(client, world, campaign_id))["contacts"]["scheduled"] == 1
    await run(platform, owner, NOON_LA + timedelta(minutes=6))
    retry, _ = await attempts(client, world, campaign_id)
    with tenant_scope(owner.tenant_id):
        await on_events(platform, [delivered("calls.call.busy", retry["call_id"])])
    # the second busy: no busy retry left
    assert (await progress(client, world, campaign_id))["contacts"]["exhausted"] == 1
    due = await run(platform, owner, NOON_LA + timedelta(minutes=20))
    assert due is None
    state = await client.get(f"{BASE}/{campaign_id}", headers=world.headers)
    assert state.json()["state"] == "completed"


async def test_the_frequency_caps_count_placed_attempts_of_every_campaign(
    client, world, owner, platform, placer
):
    """Two calls placed today (a busy one and its retry) reach the default cap of two a
    day: another campaign's dial to the same person waits for their next local day, when
    the calling window and the campaign's hours open too."""
    busy = {"busy": {"max_attempts": 5, "after_minutes": 1}}
    first = await agentless(client, world, world.contact_ids[:1], retry=busy)
    await run(platform, owner, NOON_LA)
    [attempt] = await attempts(client, world, first)
    with tenant_scope(owner.tenant_id):
        await on_events(platform, [delivered("calls.call.busy", attempt["call_id"])])
    other = await agentless(client, world, world.contact_ids[:1], name="Other")
    await run(platform, owner, NOON_LA + timedelta(minutes=2))
    assert len(placer.requests) == 2  # the first campaign's retry; the other waits
    assert [a["status"] for a in await attempts(client, world, first)] == ["placed", "ended"]
    [blocked] = await attempts(client, world, other)
    assert (blocked["allowed"], blocked["rule"]) == (False, "frequency.day")
    assert blocked["decision"]["checks"]["frequency"]["counts"] == {
        "America/Los_Angeles": {"day": 2, "week": 2}
    }
    # next local midnight, then the window (08:00) and the campaign's hours (09:00 LA)
    assert blocked["decision"]["next_allowed_at"] == "2027-03-04T17:00:00+00:00"
    assert (await progress(client, world, other))["contacts"]["scheduled"] == 1
    check = await client.post(
        f"{BASE}/{other}/check",
        headers=world.headers,
        json={"contact_id": world.contact_ids[0], "at": "2027-03-04T17:00:00Z"},
    )
    assert check.status_code == 200, check.text
    assert (check.json()["rule"], check.json()["checks"]["frequency"]["counts"]) == (
        "allowed",
        {"America/Los_Angeles": {"day": 0, "week": 2}},
    )
    await run(platform, owner, datetime(2027, 3, 4, 17, 0, tzinfo=UTC))
    assert len(placer.requests) == 3


async def test_an_erased_contacts_attempts_keep_their_decisions_without_the_number(
    client, world, owner, platform, placer
):
    campaign_id = await agentless(client, world, world.contact_ids[:1])
    await run(platform, owner, NOON_LA)
    contact = world.contact_ids[0]
    export = await client.get(f"/api/v1/contacts/{contact}/export", headers=world.headers)
    assert export.status_code == 200, export.text
    held = export.json()["plugins"]["campaigns"]
    assert [(a["number"], a["rule"]) for a in held["attempts"]] == [("+14155551000", "allowed")]
    assert held["campaigns"][0]["status"] == "dialing"
    erase = await client.post(f"/api/v1/contacts/{contact}/erase", headers=world.headers)
    assert erase.status_code == 202, erase.text
    for _ in range(50):
        await platform.jobs.run_due(platform)
        done = await client.get(erase.headers["Location"], headers=world.headers)
        if done.json()["status"] == "completed":
            break
    [attempt] = await attempts(client, world, campaign_id)
    assert attempt["number"].startswith("erased-")
    assert attempt["decision"]["number"] == attempt["number"]
    assert (attempt["rule"], attempt["decision"]["rule"]) == ("allowed", "allowed")


@pytest.mark.postgres_only
async def test_runs_at_once_never_dial_a_contact_twice(client, world, owner, platform, placer):
    contact_ids = list(world.contact_ids)
    for n in range(27):
        response = await client.post(
            "/api/v1/contacts",
            headers=world.headers,
            json={"name": f"Contact {n}", "phones": [f"+1415555{2000 + n}"]},
        )
        assert response.status_code == 201, response.text
        contact_ids.append(response.json()["id"])
    campaign_id = await agentless(client, world, contact_ids, lines=12)
    await asyncio.gather(*(run(platform, owner, NOON_LA) for _ in range(4)))
    dialled = Counter(r.to_number for r in placer.requests)
    assert len(dialled) == 12
    assert max(dialled.values()) == 1
    live = await attempts(client, world, campaign_id, status="placed", limit=100)
    assert len(live) == 12
    assert len({a["contact_id"] for a in live}) == 12
