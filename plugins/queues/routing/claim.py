"""The claim: waiting calls offered to available agents, with row locks instead of a lock
manager.

One pass locks a batch of waiting items (``FOR UPDATE SKIP LOCKED``, best first), and for
each item locks the best eligible available agent the same way (every eligible agent for
ring-all), then writes the offer, reserves the agent and marks the item offered. Rows another
pass holds are skipped, never waited for, so any number of passes (workers, tenants' jobs)
can run at once; the partial unique indexes on ``queues_offers`` stay the last word (an
insert that breaks one means another pass won: that agent is skipped).

Nothing here talks to a provider: :func:`route` returns the offers it wrote, and the caller
commits, then places the agent legs (``plugins.queues.routing.legs``).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, exists, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from kernel import Platform, current_tenant_id, utcnow
from plugins.agents import (
    Agent,
    AgentSettingsRow,
    AgentSkill,
    AgentState,
    ReachKind,
    TeamMember,
    change_state,
)
from plugins.queues.events import CallOffered
from plugins.queues.models import (
    ItemStatus,
    Offer,
    OfferStatus,
    Queue,
    QueueAgent,
    QueueItem,
    QueueTeam,
    Strategy,
)
from plugins.queues.routing.timing import DEFAULT_OFFER_TIMEOUT_SECONDS, LEG_GRACE_SECONDS

logger = logging.getLogger(__name__)

BATCH = 50
"""Waiting items one pass locks at most (the job runs passes until nothing is left)."""
RING_ALL_MAX = 100
"""Agents one ring-all offer rings at most."""
LOOPBACK = "loopback"


def required_skills(item: QueueItem, queue: Queue, now: datetime) -> list[dict[str, Any]]:
    """The skills the item still requires: none once the queue's relaxation time passed."""
    relax = queue.relax_skills_after_seconds
    if relax is not None and now - item.entered_at >= timedelta(seconds=relax):
        return []
    return list(item.required_skills or queue.required_skills or [])


def relax_at(item: QueueItem, queue: Queue) -> datetime | None:
    """When the item's skill requirements lapse (None: never, or nothing to relax)."""
    if queue.relax_skills_after_seconds is None or not (
        item.required_skills or queue.required_skills
    ):
        return None
    return item.entered_at + timedelta(seconds=queue.relax_skills_after_seconds)


def serves(queue_id: Any) -> ColumnElement[bool]:
    """The agent serves the queue (an id or a bound parameter): directly, or as a member of
    one of its teams."""
    direct = select(QueueAgent.agent_id).where(QueueAgent.queue_id == queue_id)
    by_team = (
        select(TeamMember.agent_id)
        .join(QueueTeam, QueueTeam.team_id == TeamMember.team_id)
        .where(QueueTeam.queue_id == queue_id)
    )
    return or_(Agent.id.in_(direct), Agent.id.in_(by_team))


def _skill_condition(n: int) -> ColumnElement[bool]:
    """The agent holds required skill ``n`` (parameters ``skill_<n>``, ``level_<n>``)."""
    return exists(
        select(AgentSkill.id).where(
            AgentSkill.agent_id == Agent.id,
            AgentSkill.skill == bindparam(f"skill_{n}"),
            AgentSkill.level >= bindparam(f"level_{n}"),
        )
    )


def reachable(loopback: bool) -> ColumnElement[bool]:
    """Loopback agents only take loopback calls (they exist only in the simulator)."""
    if loopback:
        return Agent.reach_kind.is_not(None)
    return Agent.reach_kind != ReachKind.LOOPBACK.value


def _eligible_statement(strategy: str, skills: int, loopback: bool) -> Select[Any]:
    query = select(Agent).where(
        Agent.state == AgentState.AVAILABLE.value,
        Agent.active.is_(True),
        serves(bindparam("queue_id")),
        reachable(loopback),
        *(_skill_condition(n) for n in range(skills)),
    )
    if strategy == Strategy.ROUND_ROBIN.value:
        order: list[Any] = [Agent.last_offered_at.asc().nulls_first(), Agent.idle_since]
    elif strategy == Strategy.SKILLS.value:
        levels = (
            select(func.coalesce(func.sum(AgentSkill.level), 0))
            .where(
                AgentSkill.agent_id == Agent.id,
                AgentSkill.skill.in_(bindparam("ranked_skills", expanding=True)),
            )
            .scalar_subquery()
        )
        order = [levels.desc(), Agent.idle_since.asc().nulls_first()]
    else:
        order = [Agent.idle_since.asc().nulls_first()]
    ring_all = strategy == Strategy.RING_ALL.value
    return (
        query.order_by(*order, Agent.id)
        .limit(RING_ALL_MAX if ring_all else 1)
        .with_for_update(skip_locked=True)
    )


_ELIGIBLE: dict[tuple[str, int, bool], Select[Any]] = {}


def _target_statement(loopback: bool) -> Select[Any]:
    return (
        select(Agent)
        .where(
            Agent.id == bindparam("target_agent_id"),
            Agent.state == AgentState.AVAILABLE.value,
            Agent.active.is_(True),
            reachable(loopback),
        )
        .with_for_update(skip_locked=True)
    )


_TARGET = {loopback: _target_statement(loopback) for loopback in (False, True)}
"""The one agent a call was moved to, if available (membership and skills aside: a
supervisor chose them), locked."""


def eligible(
    queue: Queue, item: QueueItem, skills: list[dict[str, Any]]
) -> tuple[Select[Any], dict[str, Any]]:
    """Available agents who may take ``item``, best first for the queue's strategy, locked
    (one for a call, up to :data:`RING_ALL_MAX` for ring-all; the agent it was moved to for
    a targeted call): the statement, built once per shape (strategy, number of skills,
    loopback or not), and its parameters."""
    if item.target_agent_id is not None:
        return _TARGET[item.provider == LOOPBACK], {"target_agent_id": item.target_agent_id}
    shape = (queue.strategy, len(skills), item.provider == LOOPBACK)
    statement = _ELIGIBLE.get(shape)
    if statement is None:
        if len(_ELIGIBLE) > 256:
            _ELIGIBLE.clear()
        statement = _ELIGIBLE[shape] = _eligible_statement(*shape)
    values: dict[str, Any] = {"queue_id": queue.id}
    for n, skill in enumerate(skills):
        values[f"skill_{n}"] = str(skill.get("skill", ""))
        values[f"level_{n}"] = int(skill.get("min_level", 1))
    if queue.strategy == Strategy.SKILLS.value:
        ranked = queue.required_skills or item.required_skills
        values["ranked_skills"] = [str(s.get("skill", "")) for s in ranked]
    return statement, values


@dataclass
class RoutingRun:
    """State kept across the passes of one dispatch run: the items already looked at and
    the (queue, skills, reach) combinations no agent is left for."""

    seen: set[uuid.UUID] = field(default_factory=set)
    exhausted: set[tuple[uuid.UUID, str, bool]] = field(default_factory=set)
    offer_timeout: int = DEFAULT_OFFER_TIMEOUT_SECONDS
    """The organization's offer timeout (for queues without their own), as last read."""
    full_batch: bool = False
    """The last pass stopped at its batch size: more items may be waiting."""
    offered_queues: set[uuid.UUID] = field(default_factory=set)
    """Queues whose calls were offered: their figures are published after the run."""


async def route(
    platform: Platform,
    session: AsyncSession,
    *,
    now: datetime | None = None,
    limit: int = BATCH,
    run: RoutingRun | None = None,
) -> list[Offer]:
    """Offer up to ``limit`` waiting items (best first) to available agents and return the
    offers written. The caller commits (the locks are held until then); with ``run``, a
    following pass goes on after the items this one looked at."""
    run = run if run is not None else RoutingRun()
    run.full_batch = False
    at = now or utcnow()
    query = _WAITING.limit(limit)
    if run.seen:
        query = query.where(QueueItem.id.not_in(run.seen))
    rows = (await session.execute(query, {"at": at})).all()
    run.full_batch = len(rows) >= limit
    if not rows:
        return []
    run.seen.update(item.id for item, _queue, _timeout in rows)
    if rows[0][2] is not None:
        run.offer_timeout = rows[0][2]
    offers: list[Offer] = []
    for item, queue, _timeout in rows:
        skills = required_skills(item, queue, at)
        wanted = f"agent:{item.target_agent_id}" if item.target_agent_id else repr(skills)
        key = (queue.id, wanted, item.provider == LOOPBACK)
        if key in run.exhausted:
            continue
        made = await _offer_item(platform, session, queue, item, skills, run.offer_timeout, at)
        if made:
            run.offered_queues.add(queue.id)
        else:
            run.exhausted.add(key)
        offers.extend(made)
    return offers


_ANYONE_AVAILABLE = exists(
    select(Agent.id).where(Agent.state == AgentState.AVAILABLE.value, Agent.active.is_(True))
)
_TENANT_OFFER_TIMEOUT = select(AgentSettingsRow.offer_timeout_seconds).limit(1).scalar_subquery()
_WAITING = (
    select(QueueItem, Queue, _TENANT_OFFER_TIMEOUT)
    .join(Queue, Queue.id == QueueItem.queue_id)
    .where(
        QueueItem.status == ItemStatus.WAITING.value,
        Queue.active.is_(True),
        # Nobody available: nothing locked, nothing looked at (one round trip, not two).
        _ANYONE_AVAILABLE,
        or_(
            QueueItem.kind != "callback",
            QueueItem.deadline_at.is_(None),
            QueueItem.deadline_at > bindparam("at"),
        ),
    )
    .order_by(
        # Calls moved to one agent first: each needs only its agent, who takes it next.
        QueueItem.target_agent_id.is_(None),
        Queue.priority.desc(),
        QueueItem.priority.desc(),
        QueueItem.entered_at,
        QueueItem.id,
    )
    .with_for_update(of=QueueItem, skip_locked=True)
)
"""Waiting items with their queues and the organization's offer timeout, best first, locked
(the queues are not); built once."""


async def _offer_item(
    platform: Platform,
    session: AsyncSession,
    queue: Queue,
    item: QueueItem,
    skills: list[dict[str, Any]],
    tenant_timeout: int,
    at: datetime,
) -> list[Offer]:
    candidates, values = eligible(queue, item, skills)
    agents = list(await session.scalars(candidates, values))
    if not agents and item.target_agent_id is not None and not await _target_stands(session, item):
        item.target_agent_id = None  # the agent is gone: the call is anyone's again
        candidates, values = eligible(queue, item, skills)
        agents = list(await session.scalars(candidates, values))
    ring_all = queue.strategy == Strategy.RING_ALL.value and item.target_agent_id is None
    offers = []
    for agent in agents:
        offer = await _write_offer(
            platform, session, queue, item, agent, ring_all, tenant_timeout, at
        )
        if offer is not None:
            offers.append(offer)
    return offers


async def _target_stands(session: AsyncSession, item: QueueItem) -> bool:
    """The agent the call was moved to still exists, is active and reaches its provider
    (busy or not): otherwise the call would wait for nobody."""
    found = await session.scalar(
        select(Agent.id).where(
            Agent.id == item.target_agent_id,
            Agent.active.is_(True),
            reachable(item.provider == LOOPBACK),
        )
    )
    return found is not None


async def _write_offer(
    platform: Platform,
    session: AsyncSession,
    queue: Queue,
    item: QueueItem,
    agent: Agent,
    ring_all: bool,
    tenant_timeout: int,
    at: datetime,
) -> Offer | None:
    timeout = queue.offer_timeout_seconds or tenant_timeout
    offer = await _insert_offer(
        session,
        item_id=item.id,
        queue_id=queue.id,
        agent_id=agent.id,
        ring_all=ring_all,
        status=(OfferStatus.RINGING if agent.auto_accept else OfferStatus.PENDING).value,
        created_at=at,
        expires_at=at
        + timedelta(seconds=timeout + (LEG_GRACE_SECONDS if agent.auto_accept else 0)),
    )
    if offer is None:
        # The row locks make this unreachable; the unique indexes are the last guard.
        logger.warning("offer of item %s to agent %s lost to another pass", item.id, agent.id)
        return None
    await change_state(
        platform,
        session,
        agent,
        AgentState.RESERVED,
        cause="routing",
        call_id=item.call_id,
        queue_id=queue.id,
        now=at,
    )
    item.status = ItemStatus.OFFERED.value
    item.offered_at = at
    item.offers += 1
    await platform.events.publish(
        session,
        CallOffered(
            item_id=item.id,
            queue_id=queue.id,
            call_id=item.call_id,
            kind=item.kind,
            status=item.status,
            agent_id=agent.id,
            offer_id=offer.id,
        ),
    )
    return offer


async def _insert_offer(session: AsyncSession, **values: Any) -> Offer | None:
    """Insert the offer unless a live one of the agent (or of the item, outside ring-all)
    exists: ``ON CONFLICT DO NOTHING`` on the partial unique indexes, so a lost claim costs
    no savepoint and leaves the transaction usable. The offer returned is in the session as
    a loaded row (no second write)."""
    values.update(id=uuid.uuid4(), tenant_id=current_tenant_id(), agent_call_id=None)
    values.update(decided_at=None, reason=None)
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    written = await session.scalar(
        insert(Offer).values(**values).on_conflict_do_nothing().returning(Offer.id)
    )
    if written is None:
        return None
    offer = Offer(**values)
    make_transient_to_detached(offer)
    session.add(offer)
    return offer


def live_offer(item_id: uuid.UUID) -> ColumnElement[bool]:
    return and_(
        Offer.item_id == item_id,
        Offer.status.in_(
            [s.value for s in (OfferStatus.PENDING, OfferStatus.RINGING, OfferStatus.ACCEPTED)]
        ),
    )
