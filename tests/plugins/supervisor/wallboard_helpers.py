"""What the wallboard tests share: a contact center written straight to the tables (hundreds
of agents in one transaction, as routing and the API would leave them), queues made through
the API, people with roles logged in."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from kernel import Platform, tenant_scope, utcnow
from kernel.testing import DEFAULT_TEST_PASSWORD, TenantOwner, login
from plugins.agents import Agent, HandledCall, Team, TeamMember, TeamSupervisor
from plugins.calls import Call
from plugins.queues import QueueItem
from plugins.supervisor import Alert, AlertRule, SupervisionSession

WALLBOARD = "/api/v1/supervisor/wallboard"
STATES = ("available", "on_call", "wrap_up", "away", "reserved", "offline")


@dataclass
class Board:
    """What :func:`seed` wrote: agents by team, the queues, a call per agent on a call."""

    teams: list[uuid.UUID] = field(default_factory=list)
    agents: dict[uuid.UUID, list[uuid.UUID]] = field(default_factory=dict)
    """Team id -> its agents, in creation order."""
    queues: list[str] = field(default_factory=list)
    calls: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    """Agent id -> the call it is on."""

    def all_agents(self) -> list[uuid.UUID]:
        return [a for team in self.teams for a in self.agents[team]]


async def person(
    client: httpx.AsyncClient, make_user: Any, owner: TenantOwner, name: str, role: str
) -> tuple[uuid.UUID, dict[str, str]]:
    """A user of ``owner``'s tenant with ``role``, logged in: (user id, headers)."""
    email = f"{name}@{owner.slug}.example.com"
    user_id = await make_user(owner.tenant_id, email, roles=[role])
    return user_id, await login(client, email, DEFAULT_TEST_PASSWORD, tenant=owner.slug)


async def seed(
    platform: Platform,
    client: httpx.AsyncClient,
    owner: TenantOwner,
    *,
    teams: int,
    agents_per_team: int,
    queues: int,
    leader: uuid.UUID | None = None,
    led_teams: int = 1,
    waiting: bool = True,
) -> Board:
    """``teams`` teams of agents in every state (cycling), each agent on a call with its
    handled call; ``leader`` leads the first ``led_teams``; ``queues`` queues served by the
    teams in turn, with two callers waiting in each (``waiting``; no call behind them, so
    routing, when it runs, has nothing to offer)."""
    board = Board()
    now = utcnow()
    with tenant_scope(owner.tenant_id):
        async with platform.database.session() as session:
            for t in range(teams):
                team = Team(name=f"Team {t:02d}")
                session.add(team)
                await session.flush()
                board.teams.append(team.id)
                board.agents[team.id] = []
                if leader is not None and t < led_teams:
                    session.add(TeamSupervisor(team_id=team.id, user_id=leader))
                for a in range(agents_per_team):
                    state = STATES[(t * agents_per_team + a) % len(STATES)]
                    agent = Agent(
                        display_name=f"Agent {t:02d}-{a:03d}",
                        reach_kind="loopback",
                        state=state,
                        reason_code="break" if state == "away" else None,
                        state_since=now - timedelta(seconds=30 + a),
                        state_version=1,
                    )
                    session.add(agent)
                    await session.flush()
                    board.agents[team.id].append(agent.id)
                    session.add(TeamMember(team_id=team.id, agent_id=agent.id))
                    if state == "on_call":
                        call = Call(
                            direction="inbound",
                            from_number="+14155550123",
                            to_number="+14155550100",
                            provider="loopback",
                            status="in-progress",
                            answered_at=now - timedelta(seconds=90),
                        )
                        session.add(call)
                        await session.flush()
                        agent.current_call_id = call.id
                        board.calls[agent.id] = call.id
                        session.add(
                            HandledCall(
                                agent_id=agent.id,
                                call_id=call.id,
                                answered_at=now - timedelta(seconds=25),
                            )
                        )
            await session.commit()
    for q in range(queues):
        team = board.teams[q % len(board.teams)]
        response = await client.post(
            "/api/v1/queues",
            headers=owner.headers,
            json={"name": f"Queue {q:02d}", "team_ids": [str(team)]},
        )
        assert response.status_code == 201, response.text
        board.queues.append(response.json()["id"])
    if not waiting:
        return board
    with tenant_scope(owner.tenant_id):
        async with platform.database.session() as session:
            for queue_id in board.queues:
                for wait in (12, 47):
                    session.add(
                        QueueItem(
                            queue_id=uuid.UUID(queue_id),
                            provider="loopback",
                            caller_number="+14155550199",
                            called_number="+14155550100",
                            entered_at=now - timedelta(seconds=wait),
                        )
                    )
            await session.commit()
    return board


async def raise_alert(
    platform: Platform, tenant_id: uuid.UUID, subject: str, *, cleared: bool = False
) -> uuid.UUID:
    """An alert row as the alerts evaluator writes one (with its rule)."""
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            rule = AlertRule(name="Long wait", kind="queue_longest_wait", threshold=30.0)
            session.add(rule)
            await session.flush()
            alert = Alert(
                rule_id=rule.id,
                kind=rule.kind,
                severity="warning",
                subject_type="queue",
                subject_key=subject,
                subject_name=subject,
                status="cleared" if cleared else "raised",
                value=47.0,
                threshold=30.0,
                message=f"{subject}: a caller waits 47 s (over 30 s)",
            )
            session.add(alert)
            await session.commit()
            return alert.id


async def live_session(
    platform: Platform,
    tenant_id: uuid.UUID,
    agent_id: uuid.UUID,
    call_id: uuid.UUID,
    supervisor: str,
    *,
    status: str = "active",
) -> uuid.UUID:
    """A supervision session row as the sessions service writes one."""
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            row = SupervisionSession(
                agent_id=agent_id,
                supervisor_user_id=uuid.UUID(supervisor),
                supervisor=supervisor,
                mode="monitor",
                status=status,
                provider="loopback",
                conference="conf",
                source="queues",
                agent_call_id=uuid.uuid4(),
                customer_call_id=call_id,
                reach="loopback",
                ended_at=utcnow() if status == "ended" else None,
            )
            session.add(row)
            await session.commit()
            return row.id


async def today(
    platform: Platform,
    tenant_id: uuid.UUID,
    queue_id: str,
    *,
    answered: list[float],
    abandoned: int,
) -> None:
    """Calls the queue took earlier today, as routing leaves them: completed after
    ``answered`` seconds of waiting each, and ``abandoned`` callers who gave up."""
    now = utcnow()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    # Half an hour ago, unless that was yesterday (a run just after midnight, UTC).
    start = max(now - timedelta(minutes=30), midnight)

    def at(offset: timedelta) -> datetime:
        return min(start + offset, now)

    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            for wait in answered:
                session.add(
                    QueueItem(
                        queue_id=uuid.UUID(queue_id),
                        status="completed",
                        entered_at=start,
                        answered_at=at(timedelta(seconds=wait)),
                        ended_at=at(timedelta(minutes=5)),
                        wait_seconds=wait,
                    )
                )
            for _ in range(abandoned):
                session.add(
                    QueueItem(
                        queue_id=uuid.UUID(queue_id),
                        status="abandoned",
                        entered_at=at(timedelta(minutes=10)),
                        ended_at=at(timedelta(minutes=11)),
                        wait_seconds=60.0,
                    )
                )
            await session.commit()
