"""The wallboard's snapshot: queues, the agents the principal sees, raised alerts, live
supervision sessions, and the stream position it was read at, in a fixed handful of
statements whatever the number of agents and queues (no statement per row)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, Principal, utcnow
from plugins.agents import Agent, AgentState, HandledCall, ReasonCode, agent_scope
from plugins.queues import queue_snapshots
from plugins.supervisor.models import (
    LIVE_SESSIONS,
    Alert,
    AlertStatus,
    SupervisionSession,
)
from plugins.supervisor.permissions import (
    SUPERVISOR_BARGE,
    SUPERVISOR_MONITOR,
    SUPERVISOR_WHISPER,
)
from plugins.supervisor.wallboard.schemas import (
    Abilities,
    AgentCounts,
    StreamPoint,
    Wallboard,
    WallboardAgent,
    WallboardAlert,
    WallboardQueue,
    WallboardSession,
)
from plugins.supervisor.wallboard.sentiment import call_sentiments


async def stream_point(platform: Platform, session: AsyncSession) -> StreamPoint:
    """The tenant's last dispatched event. Read before anything else: every event after it
    is newer than what the board shows, so a subscription resumed from it loses nothing
    (events at or before it that the board already includes arrive no more)."""
    head = await platform.events.head(session)
    if head == 0:
        return StreamPoint(position=0, last_event_id=None)
    last = await platform.events.read(session, after=head - 1, limit=1)
    return StreamPoint(position=head, last_event_id=last[0].id if last else None)


async def wallboard(platform: Platform, session: AsyncSession, principal: Principal) -> Wallboard:
    point = await stream_point(platform, session)
    now = utcnow()
    queues = [
        WallboardQueue(
            id=q.queue_id,
            name=q.name,
            active=q.active,
            waiting=q.waiting,
            longest_wait_seconds=q.oldest_wait_seconds,
            service_level_today=q.today.service_level,
            service_level_target=q.service_level_target,
            offered_today=q.today.offered,
            answered_today=q.today.answered,
            abandoned_today=q.today.abandoned,
            agents=AgentCounts(**q.agents),
            at=now,
        )
        for q in await queue_snapshots(platform, session, now=now)
    ]
    scope = await agent_scope(session, principal)
    agents = list(
        await session.scalars(
            select(Agent)
            .where(scope.where(), Agent.active.is_(True))
            .order_by(Agent.display_name, Agent.id)
        )
    )
    on_call = {a.current_call_id: a.id for a in agents if a.current_call_id and _talking(a)}
    started = await _connected_at(session, on_call)
    sessions = await _live_sessions(session, principal, scope.all, {a.id for a in agents})
    alerts = await session.scalars(
        select(Alert)
        .where(Alert.status == AlertStatus.RAISED.value)
        .order_by(Alert.raised_at.desc(), Alert.id)
    )
    labels = await session.execute(select(ReasonCode.code, ReasonCode.label))
    sentiments = await call_sentiments(platform, session, sorted(on_call, key=str))
    return Wallboard(
        generated_at=now,
        subject=principal.subject,
        can=Abilities(
            monitor=principal.can(SUPERVISOR_MONITOR.resource, SUPERVISOR_MONITOR.action),
            whisper=principal.can(SUPERVISOR_WHISPER.resource, SUPERVISOR_WHISPER.action),
            barge=principal.can(SUPERVISOR_BARGE.resource, SUPERVISOR_BARGE.action),
        ),
        queues=queues,
        agents=[
            WallboardAgent(
                id=a.id,
                display_name=a.display_name,
                state=a.state,
                state_since=a.state_since,
                reason_code=a.reason_code,
                current_call_id=a.current_call_id,
                call_started_at=started.get(a.id, a.state_since) if _talking(a) else None,
                sentiment=sentiments.get(a.current_call_id) if a.current_call_id else None,
                state_version=a.state_version,
            )
            for a in agents
        ],
        alerts=[
            WallboardAlert(
                id=row.id,
                rule_id=row.rule_id,
                kind=row.kind,
                severity=row.severity,
                subject_type=row.subject_type,
                subject_key=row.subject_key,
                subject_name=row.subject_name,
                value=row.value,
                threshold=row.threshold,
                message=row.message,
                raised_at=row.raised_at,
            )
            for row in alerts
        ],
        sessions=sessions,
        reason_labels={code: label or code for code, label in labels},
        stream=point,
    )


def _talking(agent: Agent) -> bool:
    return agent.state == AgentState.ON_CALL.value and agent.current_call_id is not None


async def _connected_at(
    session: AsyncSession, on_call: dict[uuid.UUID, uuid.UUID]
) -> dict[uuid.UUID, datetime]:
    """When each agent on a call answered it (the handled call routing wrote)."""
    if not on_call:
        return {}
    rows = await session.execute(
        select(HandledCall.agent_id, HandledCall.call_id, HandledCall.answered_at).where(
            HandledCall.call_id.in_(sorted(on_call, key=str))
        )
    )
    return {
        agent_id: answered
        for agent_id, call_id, answered in rows
        if on_call.get(call_id) == agent_id
    }


async def _live_sessions(
    session: AsyncSession, principal: Principal, everyone: bool, shown: set[uuid.UUID]
) -> list[WallboardSession]:
    rows = await session.scalars(
        select(SupervisionSession)
        .where(SupervisionSession.status.in_(LIVE_SESSIONS))
        .order_by(SupervisionSession.started_at, SupervisionSession.id)
    )
    return [
        WallboardSession(
            id=row.id,
            agent_id=row.agent_id,
            supervisor=row.supervisor,
            mine=row.supervisor == principal.subject,
            mode=row.mode,
            status=row.status,
            started_at=row.started_at,
            connected_at=row.connected_at,
        )
        for row in rows
        if everyone or row.agent_id in shown or row.supervisor == principal.subject
    ]
