"""Trends per agent, queue, campaign and day (in the organization's time zone), a call's
attribution learnt from the events of the queues and campaigns plugins, and the caller's
sentiment on the wallboard (``kraliki_supervisor_call_sentiment``)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from sentiment_helpers import ANGRY, HAPPY, finished_call, scored

from kernel import DeliveredEvent, tenant_scope, utcnow
from plugins.agents import Agent, Team, TeamMember
from plugins.sentiment import plugin as sentiment_plugin

ZONE = "Pacific/Kiritimati"  # UTC+14: its day is not UTC's for 14 hours of each day


def event(calls, name: str, **payload) -> DeliveredEvent:
    return DeliveredEvent(
        id=uuid.uuid4(),
        tenant_id=calls.tenant_id,
        name=name,
        version=1,
        occurred_at=utcnow(),
        aggregate=name,
        payload={k: str(v) for k, v in payload.items()},
        position=0,
    )


async def test_trends_by_agent_queue_campaign_and_day(loopback_calls):
    calls = loopback_calls
    async with httpx.AsyncClient(base_url=calls.url, headers=calls.headers, timeout=30) as api:
        zoned = await api.patch("/api/v1/tenant", json={"timezone": ZONE})
        assert zoned.status_code == 200, zoned.text
        queued = await finished_call(calls, HAPPY, ANGRY)
        dialled = await finished_call(calls, HAPPY)
        await scored(calls, queued["id"], 2)
        await scored(calls, dialled["id"], 1)
        queue, agent, campaign = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        told = [
            event(
                calls,
                "queues.call.answered",
                call_id=queued["id"],
                queue_id=queue,
                agent_id=agent,
                item_id=uuid.uuid4(),
            ),
            event(
                calls,
                "campaigns.attempt.ended",
                call_id=dialled["id"],
                campaign_id=campaign,
                attempt_id=uuid.uuid4(),
            ),
            event(calls, "calls.call.completed", call_id=dialled["id"]),
        ]
        with tenant_scope(calls.tenant_id):
            await sentiment_plugin.kraliki_events(calls.platform, told)

        async def trend(**params) -> dict:
            got = await api.get("/api/v1/sentiment/trends", params=params)
            assert got.status_code == 200, got.text
            return dict(got.json())

        today = datetime.now(ZoneInfo(ZONE)).date()
        day = await trend(group_by="day")
        assert day["time_zone"] == ZONE
        assert day["to"] == today.isoformat()
        [group] = day["groups"]
        assert group["key"] == today.isoformat()
        assert (group["calls"], group["segments"]) == (2, 3)
        assert group["positive_calls"] >= 1  # the happy call; the other is mixed
        assert group["positive_calls"] + group["neutral_calls"] + group["negative_calls"] == 2
        by_queue = {g["key"]: g["calls"] for g in (await trend(group_by="queue"))["groups"]}
        assert by_queue == {str(queue): 1, None: 1}
        by_agent = {g["key"]: g["calls"] for g in (await trend(group_by="agent"))["groups"]}
        assert by_agent == {str(agent): 1, None: 1}
        by_campaign = (await trend(group_by="campaign"))["groups"]
        assert {g["key"]: g["average_score"] > 0.5 for g in by_campaign} == {
            str(campaign): True,  # the happy call alone
            None: False,
        }
        # The call's own sentiment names them too.
        detail = (await api.get(f"/api/v1/sentiment/calls/{queued['id']}")).json()
        assert (detail["queue_id"], detail["agent_id"]) == (str(queue), str(agent))

        yesterday = today - timedelta(days=1)
        assert (await trend(to=yesterday.isoformat()))["groups"] == []
        backwards = await api.get(
            "/api/v1/sentiment/trends", params={"from": today.isoformat(), "to": str(yesterday)}
        )
        assert backwards.status_code == 422
        wrong = await api.get("/api/v1/sentiment/trends", params={"group_by": "planet"})
        assert wrong.status_code == 422


async def test_the_wallboard_hook_gives_the_callers_sentiment(loopback_calls):
    calls = loopback_calls
    call = await finished_call(calls, HAPPY, ANGRY)
    await scored(calls, call["id"], 2)
    unknown = uuid.uuid4()
    with tenant_scope(calls.tenant_id):
        async with calls.platform.database.session() as session:
            answer = await sentiment_plugin.kraliki_supervisor_call_sentiment(
                session, [uuid.UUID(call["id"]), unknown]
            )
    [(call_id, sentiment)] = answer.items()
    assert str(call_id) == call["id"]
    assert sentiment["label"] in ("positive", "neutral", "negative")
    assert -1 <= sentiment["score"] <= 1
    assert sentiment["at"] is not None


async def test_the_wallboard_shows_the_callers_sentiment_of_an_agents_call(loopback_calls):
    """An agent on the call (``Agent.current_call_id``, as routing leaves it): the board
    shows the call's sentiment; analysing the call learns its agent from the agents plugin."""
    calls = loopback_calls
    call = await finished_call(calls, HAPPY, ANGRY)
    await scored(calls, call["id"], 2)
    with tenant_scope(calls.tenant_id):
        async with calls.platform.database.session() as session:
            team = Team(name="Care")
            agent = Agent(display_name="Ada", reach_kind="loopback", state="on_call")
            session.add_all([team, agent])
            await session.flush()
            session.add(TeamMember(team_id=team.id, agent_id=agent.id))
            agent.current_call_id = uuid.UUID(call["id"])
            await session.commit()
            agent_id = str(agent.id)
    async with httpx.AsyncClient(base_url=calls.url, headers=calls.headers, timeout=30) as api:
        board = await api.get("/api/v1/supervisor/wallboard")
        assert board.status_code == 200, board.text
        [ada] = [a for a in board.json()["agents"] if a["id"] == agent_id]
        sentiment = (await api.get(f"/api/v1/sentiment/calls/{call['id']}")).json()
        assert ada["sentiment"]["label"] == sentiment["customer"]["label"]
        assert ada["sentiment"]["score"] == sentiment["customer"]["score"]
        assert sentiment["agent_id"] is None  # nobody was on it while it was scored
        analysed = await api.post(f"/api/v1/sentiment/calls/{call['id']}/analyze")
        assert analysed.status_code == 200, analysed.text
        assert analysed.json()["agent_id"] == agent_id
