"""A campaign's figures through HTTP: the totals with the campaign (``GET /campaigns/{id}``,
``metrics``) and per UTC hour and day (``GET /campaigns/{id}/metrics``).

An agentless campaign is dialled by the engine (a fixed clock, the calls plugin replaced by
a recorder, the calls' outcomes delivered as the calls plugin sends them). A progressive
campaign's attempts (agents connected, abandoned calls) are written directly (see
``reports_helpers``), each with the real check's decision."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from campaigns_helpers import BASE
from reports_helpers import (
    NOON_LA,
    Placer,
    agentless,
    change_campaign,
    decision,
    delivered,
    ok,
    progressive,
    run,
    seconds,
    write_attempts,
)

from kernel import tenant_scope, utcnow
from plugins.campaigns.dialer import engine as engine_module
from plugins.campaigns.dialer.outcomes import on_events


@pytest.fixture(autouse=True)
def no_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """No background job may dial with the real clock meanwhile."""
    monkeypatch.setenv("KRALIKI_BACKGROUND_WORKERS", "false")


@pytest.fixture
def placer(monkeypatch: pytest.MonkeyPatch) -> Placer:
    fake = Placer()
    monkeypatch.setattr(engine_module, "place_call", fake)
    return fake


async def test_an_agentless_campaigns_figures_come_with_it(client, world, owner, platform, placer):
    listed = await ok(
        await client.post(
            "/api/v1/contacts",
            headers=world.headers,
            json={"name": "Dee", "phones": ["+14155551999"]},
        ),
        201,
    )
    await ok(
        await client.post(
            "/api/v1/contacts/dnc", headers=world.headers, json={"value": "+14155551999"}
        ),
        201,
    )
    campaign_id = await agentless(client, world, [*world.contact_ids, listed["id"]], lines=4)
    fresh = (await ok(await client.get(f"{BASE}/{campaign_id}", headers=world.headers)))["metrics"]
    assert (fresh["attempts"], fresh["connects"], fresh["abandonment_rate_30d"]) == (0, 0, None)
    assert fresh["contacts"] == {
        "total": 4,
        "remaining": 4,
        "pending": 4,
        "scheduled": 0,
        "dialing": 0,
        "done": 0,
        "exhausted": 0,
        "blocked": 0,
    }

    await run(platform, owner.tenant_id, NOON_LA)
    assert len(placer.requests) == 3
    page = await ok(await client.get(f"{BASE}/{campaign_id}/attempts", headers=world.headers))
    calls = {a["number"]: a for a in page["items"] if a["allowed"]}
    person, machine, busy = (calls[f"+1415555{1000 + i}"] for i in range(3))
    answered, ended = NOON_LA + seconds(20), NOON_LA + seconds(50)
    with tenant_scope(owner.tenant_id):
        await on_events(
            platform,
            [
                delivered("calls.call.answered", person["call_id"], answered, answered_by="human"),
                delivered("calls.call.completed", person["call_id"], ended),
                delivered(
                    "calls.call.answered", machine["call_id"], answered, answered_by="machine"
                ),
                delivered("calls.call.completed", machine["call_id"], ended),
                delivered("calls.call.busy", busy["call_id"], ended),
            ],
        )

    campaign = await ok(await client.get(f"{BASE}/{campaign_id}", headers=world.headers))
    figures = campaign["metrics"]
    assert figures["attempts"] == 3
    assert (figures["blocked"], figures["blocked_by_rule"]) == (1, {"dnc-number": 1})
    assert (figures["connects"], figures["human"], figures["machine"]) == (2, 1, 1)
    # agentless: a person who answered heard the flow
    assert figures["right_party_contacts"] == 1
    assert (figures["abandoned"], figures["abandoned_30d"]) == (0, 0)
    assert figures["average_handle_seconds"] == 30.0  # answered at +20 s, ended at +50 s
    assert figures["contacts"]["done"] == 1
    assert figures["contacts"]["blocked"] == 1
    assert figures["contacts"]["scheduled"] == 2  # busy and machine: retries due
    assert figures["contacts"]["remaining"] == 2
    assert figures["contacts"]["total"] == 4

    listed_campaigns = await ok(await client.get(BASE, headers=world.headers))
    assert [c["metrics"] for c in listed_campaigns["items"]] == [None]  # lists stay cheap


async def agent_day(client, world, owner, platform) -> tuple[str, datetime, datetime]:
    """A progressive campaign's day three days ago (from 19:00 UTC, inside its Los Angeles
    hours): answers connected to agents, abandons, a machine, no answer, a call the calls
    plugin refused; and one abandon 40 days ago (the campaign was first activated 60 days
    ago). Returns the campaign id, the day's first hour and the old abandon's instant."""
    campaign_id = await progressive(client, world)
    ada, ben, cleo = world.contact_ids
    now = utcnow()
    base = datetime.combine((now - timedelta(days=3)).date(), time(19), tzinfo=UTC)
    old = datetime.combine((now - timedelta(days=40)).date(), time(19), tzinfo=UTC)
    first = await decision(client, world, campaign_id, ada, base + timedelta(minutes=10))
    second = await decision(client, world, campaign_id, ben, base + timedelta(minutes=65))
    late = await decision(client, world, campaign_id, cleo, base + timedelta(hours=3))
    oldest = await decision(client, world, campaign_id, ada, old)
    assert all(d["allowed"] for d in (first, second, late, oldest))

    def answered(record, answer: float, **values):
        at = datetime.fromisoformat(record["at"])
        return {
            "decision": record,
            "placed_at": at,
            "answered_at": at + seconds(answer),
            "answered_by": "human",
            "outcome": "human",
            **values,
        }

    def connected(record, answer: float, talk: float):
        at = datetime.fromisoformat(record["at"])
        return answered(
            record,
            answer,
            agent_id=None,
            connected_at=at + seconds(answer + 0.5),
            ended_at=at + seconds(answer + 0.5 + talk),
        )

    def abandoned(record, answer: float, after: float):
        at = datetime.fromisoformat(record["at"])
        return answered(
            record,
            answer,
            abandoned=True,
            safe_harbour_at=at + seconds(answer + after),
            ended_at=at + seconds(answer + after + 8),
        )

    rows = [
        connected(first, 10, 120),  # hour 0: a right-party contact, 120 s handled
        abandoned(first, 12, 1.5),  # hour 0: abandoned, message after 1.5 s
        abandoned(second, 9, 2.5),  # hour 1: abandoned, message after 2.5 s
        {  # hour 1: a machine, hung up on
            "decision": second,
            "placed_at": datetime.fromisoformat(second["at"]),
            "answered_at": datetime.fromisoformat(second["at"]) + seconds(7),
            "answered_by": "machine",
            "outcome": "machine",
            "amd_action": "hangup",
        },
        {"decision": second, "outcome": "no_answer"},  # hour 1
        {"decision": second, "status": "not_placed"},  # hour 1: not a dial
        connected(late, 5, 60),  # hour 3: a right-party contact, 60 s handled
        abandoned(oldest, 11, 1.0),  # 40 days ago: outside the rolling 30 days
    ]
    await write_attempts(platform, owner.tenant_id, campaign_id, rows)
    await change_campaign(
        platform, owner.tenant_id, campaign_id, activated_at=now - timedelta(days=60)
    )
    return campaign_id, base, old


async def test_an_agent_campaigns_figures(client, world, owner, platform):
    campaign_id, _, _ = await agent_day(client, world, owner, platform)
    figures = (await ok(await client.get(f"{BASE}/{campaign_id}", headers=world.headers)))[
        "metrics"
    ]
    assert figures["attempts"] == 7  # the refused placement is not a dial
    assert (figures["connects"], figures["human"], figures["machine"]) == (6, 5, 1)
    # a person answered and an agent was connected: abandons are not right-party contacts
    assert figures["right_party_contacts"] == 2
    assert figures["abandoned"] == 3
    # the rolling 30 days: 4 people answered, 2 of them abandoned
    assert (figures["answered_30d"], figures["abandoned_30d"]) == (4, 2)
    assert figures["abandonment_rate_30d"] == 50.0
    assert figures["average_handle_seconds"] == 90.0  # (120 + 60) / 2
    assert figures["contacts"]["pending"] == 3


async def test_the_figures_per_hour_and_day(client, world, owner, platform, as_role):
    campaign_id, base, old = await agent_day(client, world, owner, platform)
    params = {
        "bucket": "hour",
        "from": base.isoformat(),
        "to": (base + timedelta(hours=4)).isoformat(),
    }
    hours = await ok(
        await client.get(f"{BASE}/{campaign_id}/metrics", headers=world.headers, params=params)
    )
    assert (hours["bucket"], hours["from"]) == ("hour", base.isoformat().replace("+00:00", "Z"))
    counted = [
        (
            datetime.fromisoformat(b["start"]) - base,
            b["attempts"],
            b["connects"],
            b["human"],
            b["right_party_contacts"],
            b["abandoned"],
            b["average_handle_seconds"],
        )
        for b in hours["buckets"]
    ]
    assert counted == [
        (timedelta(hours=0), 2, 2, 2, 1, 1, 120.0),
        (timedelta(hours=1), 3, 2, 1, 0, 1, None),
        (timedelta(hours=2), 0, 0, 0, 0, 0, None),  # empty hours are listed too
        (timedelta(hours=3), 1, 1, 1, 1, 0, 60.0),
    ]

    day = base.replace(hour=0)
    days = await ok(
        await client.get(
            f"{BASE}/{campaign_id}/metrics",
            headers=world.headers,
            params={
                "bucket": "day",
                "from": (old - timedelta(hours=1)).isoformat(),
                "to": (day + timedelta(days=1)).isoformat(),
            },
        )
    )
    assert len(days["buckets"]) == 38  # the old day to the recent one, every day
    by_day = {b["start"][:10]: (b["attempts"], b["abandoned"]) for b in days["buckets"]}
    assert by_day[old.date().isoformat()] == (1, 1)
    assert by_day[day.date().isoformat()] == (6, 2)
    assert sum(b["attempts"] for b in days["buckets"]) == 7

    # an offset in the query is the same instant: the buckets stay UTC
    shifted = await ok(
        await client.get(
            f"{BASE}/{campaign_id}/metrics",
            headers=world.headers,
            params={**params, "from": base.astimezone(_zone(-7)).isoformat()},
        )
    )
    assert shifted["buckets"] == hours["buckets"]

    supervisor = await as_role("supervisor")
    allowed = await client.get(f"{BASE}/{campaign_id}/metrics", headers=supervisor)
    assert allowed.status_code == 200, allowed.text
    assert len(allowed.json()["buckets"]) == 24  # the last 24 hours by default
    agent = await as_role("agent")
    refused = await client.get(f"{BASE}/{campaign_id}/metrics", headers=agent)
    assert refused.status_code == 403, refused.text
    # an agent still sees the totals with the campaign (campaigns:read)
    seen = await client.get(f"{BASE}/{campaign_id}", headers=agent)
    assert seen.json()["metrics"]["abandoned"] == 3


def _zone(hours: int):
    from datetime import timezone

    return timezone(timedelta(hours=hours))


@pytest.mark.parametrize(
    ("params", "loc", "says"),
    [
        (
            {"bucket": "hour", "from": "2027-01-01T00:00:00Z", "to": "2027-02-02T00:00:00Z"},
            "from",
            "at most 31 days",
        ),
        (
            {"bucket": "day", "from": "2026-01-01T00:00:00Z", "to": "2027-01-03T00:00:00Z"},
            "from",
            "at most 366 days",
        ),
        (
            {"bucket": "hour", "from": "2027-01-02T00:00:00Z", "to": "2027-01-01T00:00:00Z"},
            "to",
            "after `from`",
        ),
        ({"bucket": "week"}, "bucket", ""),
        ({"from": "2027-01-01T00:00:00"}, "from", ""),  # no offset: which instant?
    ],
)
async def test_a_range_out_of_bounds_is_a_422(client, world, params, loc, says):
    campaign_id = await progressive(client, world)
    response = await client.get(
        f"{BASE}/{campaign_id}/metrics", headers=world.headers, params=params
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["type"].endswith("/validation-error")
    [error] = body["errors"]
    assert error["loc"] == ["query", loc]
    assert says in error["message"]


async def test_another_organizations_campaign_has_no_figures(client, world, kraliki_make_owner):
    campaign_id = await progressive(client, world)
    other = await kraliki_make_owner("globex")
    for url in (f"{BASE}/{campaign_id}/metrics", f"{BASE}/{campaign_id}"):
        response = await client.get(url, headers=other.headers)
        assert response.status_code == 404, response.text
        assert response.json()["type"].endswith("/campaigns-campaign-not-found")
