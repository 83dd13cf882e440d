"""A queue's live figures: who waits, who serves, and how today went.

Everything comes from one aggregate statement over the queues, their items and the agents who
serve them (:func:`snapshots`), so that routing and the caller side can publish
``queues.queue.stats`` after every change (:func:`publish_stats`) at the cost of one query.
"Today" is the organization's day in its time zone (``PATCH /api/v1/tenant``), UTC without
one. The formulas are in ``docs/plugins/queues.md`` ("Live figures").
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as clock
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Float, Uuid, and_, bindparam, case, func, or_, select, text, union
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, current_tenant_id, utcnow
from plugins.agents import Agent, AgentSkill, AgentState, TeamMember
from plugins.queues.config import queues_settings
from plugins.queues.events import QueueStats
from plugins.queues.models import (
    LIVE_ITEM_STATUSES,
    ItemStatus,
    Queue,
    QueueAgent,
    QueueItem,
    QueueTeam,
)
from plugins.queues.schemas import QueueToday

_ZONE_TTL = 60.0
_zones: dict[uuid.UUID, tuple[str, float]] = {}


@dataclass(frozen=True, slots=True)
class Day:
    """The organization's current day: its date, zone and where it started (UTC)."""

    day: date
    zone: str
    start: datetime


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One queue's figures, as the aggregate statement returns them."""

    queue_id: uuid.UUID
    name: str
    active: bool
    service_level_target: int
    waiting: int
    connected: int
    oldest_wait_seconds: float
    agents: dict[str, int]
    today: QueueToday


async def time_zone(session: AsyncSession) -> str:
    """The organization's IANA time zone (``tenant_settings``), cached a minute per process.

    Read with SQL text: the time zone belongs to the core ``tenants`` component, which
    publishes no Python API to plugins; its table is the platform's record of it."""
    tenant = current_tenant_id()
    if tenant is None:
        return "UTC"
    cached = _zones.get(tenant)
    if cached is not None and cached[1] > time.monotonic():
        return cached[0]
    query = text("SELECT timezone FROM tenant_settings WHERE tenant_id = :tenant").bindparams(
        bindparam("tenant", value=tenant, type_=Uuid())
    )
    zone = (await session.execute(query)).scalar_one_or_none() or "UTC"
    if len(_zones) > 10_000:
        _zones.clear()
    _zones[tenant] = (zone, time.monotonic() + _ZONE_TTL)
    return str(zone)


def day_of(zone_name: str, now: datetime) -> Day:
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        zone_name, zone = "UTC", ZoneInfo("UTC")
    local = now.astimezone(zone)
    start = datetime.combine(local.date(), clock(0), tzinfo=zone)
    return Day(day=local.date(), zone=zone_name, start=start.astimezone(now.tzinfo))


def _percent(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _statement() -> Any:
    """Per queue: live counts, the oldest live entry, today's outcomes and the serving
    agents by state, in one statement (agents through correlated subqueries); the day's
    start and the short-abandon threshold are parameters (``day_start``, ``short_abandon``)."""
    item = QueueItem
    live = item.status.in_([s.value for s in LIVE_ITEM_STATUSES])
    today = item.entered_at >= bindparam("day_start")
    answered = and_(today, item.answered_at.is_not(None))
    abandoned = and_(today, item.status == ItemStatus.ABANDONED.value)
    short = func.coalesce(item.wait_seconds, 1e9) < bindparam("short_abandon", type_=Float)

    def counted(condition: Any) -> Any:
        return func.count(case((condition, 1)))

    direct = (
        select(QueueAgent.id)
        .where(QueueAgent.queue_id == Queue.id, QueueAgent.agent_id == Agent.id)
        .correlate(Queue, Agent)
    )
    by_team = (
        select(TeamMember.id)
        .join(QueueTeam, QueueTeam.team_id == TeamMember.team_id)
        .where(QueueTeam.queue_id == Queue.id, TeamMember.agent_id == Agent.id)
        .correlate(Queue, Agent)
    )
    agents = [
        select(func.count(Agent.id))
        .where(
            Agent.active.is_(True),
            Agent.state == state.value,
            or_(direct.exists(), by_team.exists()),
        )
        .correlate(Queue)
        .scalar_subquery()
        .label(f"agents_{state.value}")
        for state in AgentState
    ]
    joined = and_(
        item.queue_id == Queue.id,
        or_(item.status.in_([s.value for s in (*LIVE_ITEM_STATUSES, ItemStatus.CONNECTED)]), today),
    )
    return (
        select(
            Queue.id,
            Queue.name,
            Queue.active,
            Queue.service_level_target,
            counted(live).label("waiting"),
            counted(item.status == ItemStatus.CONNECTED.value).label("connected"),
            func.min(case((live, item.entered_at))).label("oldest"),
            counted(answered).label("answered"),
            counted(and_(answered, item.wait_seconds <= Queue.service_level_seconds)).label(
                "within"
            ),
            func.sum(case((answered, item.wait_seconds), else_=0.0)).label("answered_wait"),
            counted(and_(abandoned, ~short)).label("abandoned"),
            counted(and_(abandoned, short)).label("short_abandoned"),
            counted(and_(today, item.status == ItemStatus.OVERFLOWED.value)).label("overflowed"),
            *agents,
        )
        .outerjoin(item, joined)
        .group_by(Queue.id, Queue.name, Queue.active, Queue.service_level_target)
        .order_by(Queue.name)
    )


_EVERY_QUEUE = _statement()
"""Built once: building it took longer than running it (one snapshot per change)."""
_SOME_QUEUES = _EVERY_QUEUE.where(Queue.id.in_(bindparam("queue_ids", expanding=True)))


async def snapshots(
    platform: Platform,
    session: AsyncSession,
    queue_ids: Sequence[uuid.UUID] | None = None,
    *,
    now: datetime | None = None,
) -> list[Snapshot]:
    """The figures of ``queue_ids`` (every queue: None), by name."""
    now = now or utcnow()
    day = day_of(await time_zone(session), now)
    values: dict[str, Any] = {
        "day_start": day.start,
        "short_abandon": queues_settings(platform).short_abandon_seconds,
    }
    statement = _EVERY_QUEUE
    if queue_ids is not None:
        statement, values["queue_ids"] = _SOME_QUEUES, list(queue_ids)
    out = []
    for row in await session.execute(statement, values):
        offered = row.answered + row.abandoned + row.overflowed
        oldest = row.oldest
        if isinstance(oldest, str):  # SQLite: an aggregate of a CASE loses the column type
            oldest = datetime.fromisoformat(oldest)
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=now.tzinfo)
        today = QueueToday(
            day=day.day,
            time_zone=day.zone,
            offered=offered,
            answered=row.answered,
            answered_within_threshold=row.within,
            abandoned=row.abandoned,
            short_abandoned=row.short_abandoned,
            overflowed=row.overflowed,
            service_level=_percent(row.within, offered),
            asa_seconds=round(float(row.answered_wait or 0) / row.answered, 1)
            if row.answered
            else None,
            abandon_rate=_percent(row.abandoned, offered),
        )
        out.append(
            Snapshot(
                queue_id=row.id,
                name=row.name,
                active=row.active,
                service_level_target=row.service_level_target,
                waiting=row.waiting,
                connected=row.connected,
                oldest_wait_seconds=round(max(0.0, (now - oldest).total_seconds()), 1)
                if oldest is not None
                else 0.0,
                agents={s.value: getattr(row, f"agents_{s.value}") for s in AgentState},
                today=today,
            )
        )
    return out


async def waiting_calls(
    session: AsyncSession, queue_id: uuid.UUID, *, limit: int
) -> list[QueueItem]:
    """The queue's live items in line order: priority first, then the longest wait."""
    rows = await session.scalars(
        select(QueueItem)
        .where(
            QueueItem.queue_id == queue_id,
            QueueItem.status.in_([s.value for s in LIVE_ITEM_STATUSES]),
        )
        .order_by(QueueItem.priority.desc(), QueueItem.entered_at, QueueItem.id)
        .limit(limit)
    )
    return list(rows)


async def publish_stats(platform: Platform, session: AsyncSession, queue_id: uuid.UUID) -> None:
    """Publish ``queues.queue.stats`` for ``queue_id`` in the caller's transaction.

    Routing and the caller side call it after every change to a queue's calls or agents
    (enqueued, offered, answered, abandoned, overflowed, moved); it costs one aggregate query.
    A queue that does not exist (deleted meanwhile) publishes nothing."""
    now = utcnow()
    found = await snapshots(platform, session, [queue_id], now=now)
    if not found:
        return
    figures = found[0]
    await platform.events.publish(
        session,
        QueueStats(
            queue_id=queue_id,
            waiting=figures.waiting,
            oldest_wait_seconds=figures.oldest_wait_seconds,
            agents=figures.agents,
            offered_today=figures.today.offered,
            answered_today=figures.today.answered,
            abandoned_today=figures.today.abandoned,
            service_level_today=figures.today.service_level,
            at=now,
        ),
    )


async def availability(session: AsyncSession) -> list[tuple[Queue, int, int, int]]:
    """Every queue with its active members, how many are available, and how many of those
    hold every required skill at its minimum level."""
    queues = list(await session.scalars(select(Queue).order_by(Queue.name)))
    pairs = await session.execute(
        union(
            select(QueueAgent.queue_id, QueueAgent.agent_id),
            select(QueueTeam.queue_id, TeamMember.agent_id).join(
                TeamMember, TeamMember.team_id == QueueTeam.team_id
            ),
        )
    )
    serving: dict[uuid.UUID, set[uuid.UUID]] = {}
    for queue_id, agent_id in pairs:
        serving.setdefault(queue_id, set()).add(agent_id)
    states = dict(
        (await session.execute(select(Agent.id, Agent.state).where(Agent.active.is_(True)))).all()
    )
    available = {a for a, state in states.items() if state == AgentState.AVAILABLE.value}
    skills: dict[uuid.UUID, dict[str, int]] = {}
    if available:
        for agent_id, skill, level in await session.execute(
            select(AgentSkill.agent_id, AgentSkill.skill, AgentSkill.level).where(
                AgentSkill.agent_id.in_(available)
            )
        ):
            skills.setdefault(agent_id, {})[skill] = level
    out = []
    for queue in queues:
        members = {a for a in serving.get(queue.id, set()) if a in states}
        ready = members & available
        qualified = [
            a
            for a in ready
            if all(
                skills.get(a, {}).get(need["skill"], 0) >= need["min_level"]
                for need in queue.required_skills or []
            )
        ]
        out.append((queue, len(members), len(ready), len(qualified)))
    return out
