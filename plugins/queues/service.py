"""Queues themselves: create, change and delete them, with who serves them; every value
checked against what exists (agents, teams, other queues, IVR nodes) before it is written.

No HTTP here: explicit sessions and keyword arguments. Each change bumps the queue's
``version`` (its ``ETag``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import ProblemError, if_match_allows
from plugins.agents import Agent, Team
from plugins.calls import routed_numbers
from plugins.ivr import node_problem, nodes_naming
from plugins.queues.models import (
    LIVE_ITEM_STATUSES,
    ItemStatus,
    OverflowKind,
    Queue,
    QueueAgent,
    QueueItem,
    QueueTeam,
    Strategy,
)
from plugins.queues.problems import (
    QUEUE_CHANGED,
    QUEUE_EXISTS,
    QUEUE_IN_USE,
    QUEUE_INVALID,
    QUEUE_NOT_FOUND,
    located,
)
from plugins.queues.schemas import QueueOut, overflow_out

ROUTE = "queues"
"""The call handler's name: a phone number's ``route`` that sends callers to a queue."""

NULLABLE = frozenset(
    {
        "relax_skills_after_seconds",
        "max_wait_seconds",
        "max_size",
        "overflow",
        "music_url",
        "wrap_up_seconds",
        "offer_timeout_seconds",
    }
)
MEMBERS = ("agent_ids", "team_ids")
BUSY_STATUSES = (*LIVE_ITEM_STATUSES, ItemStatus.CONNECTED)


@dataclass
class Problems:
    """The 422 being collected: every wrong value at once, each with its location."""

    errors: list[dict[str, Any]] = field(default_factory=list)

    def add(self, loc: Sequence[str | int], message: str, type_: str = "value_error") -> None:
        self.errors.append({"loc": list(loc), "message": message, "type": type_})

    def raise_if_any(self) -> None:
        if self.errors:
            detail = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['message']}" for e in self.errors[:5]
            )
            raise ProblemError(QUEUE_INVALID, detail, errors=located(self.errors))


async def get_queue(
    session: AsyncSession, queue_id: uuid.UUID, *, for_update: bool = False
) -> Queue:
    query = select(Queue).where(Queue.id == queue_id)
    if for_update:
        query = query.with_for_update()
    queue = await session.scalar(query)
    if queue is None:
        raise ProblemError(QUEUE_NOT_FOUND, f"no queue {queue_id}")
    return queue


def check_version(queue: Queue, if_match: str | None) -> None:
    """``If-Match`` (``"3"``, ``W/"3"`` or ``*``) must name the queue's current version."""
    if not if_match_allows(if_match, queue.version):
        raise ProblemError(
            QUEUE_CHANGED,
            f"the queue is at version {queue.version}; If-Match named {if_match}",
            current_version=queue.version,
        )


async def members(
    session: AsyncSession, queue_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[list[uuid.UUID], list[uuid.UUID]]]:
    """Each queue's direct agents and teams, sorted."""
    out: dict[uuid.UUID, tuple[list[uuid.UUID], list[uuid.UUID]]] = {q: ([], []) for q in queue_ids}
    if not queue_ids:
        return out
    for queue_id, agent_id in await session.execute(
        select(QueueAgent.queue_id, QueueAgent.agent_id).where(QueueAgent.queue_id.in_(queue_ids))
    ):
        out[queue_id][0].append(agent_id)
    for queue_id, team_id in await session.execute(
        select(QueueTeam.queue_id, QueueTeam.team_id).where(QueueTeam.queue_id.in_(queue_ids))
    ):
        out[queue_id][1].append(team_id)
    for agents, teams in out.values():
        agents.sort()
        teams.sort()
    return out


async def queue_outs(session: AsyncSession, queues: Sequence[Queue]) -> list[QueueOut]:
    found = await members(session, [q.id for q in queues])
    return [
        QueueOut.model_validate(
            {
                **{c: getattr(q, c) for c in QueueOut.model_fields if hasattr(Queue, c)},
                "overflow": overflow_out(q.overflow),
                "agent_ids": found[q.id][0],
                "team_ids": found[q.id][1],
            }
        )
        for q in queues
    ]


async def create_queue(session: AsyncSession, *, values: Mapping[str, Any]) -> Queue:
    queue = Queue(id=uuid.uuid4(), required_skills=[], overflow={}, version=1)
    _defaults(queue)
    await _apply(session, queue, values, new=True)
    return queue


async def update_queue(
    session: AsyncSession,
    *,
    queue_id: uuid.UUID,
    values: Mapping[str, Any],
    if_match: str | None,
) -> Queue:
    queue = await get_queue(session, queue_id, for_update=True)
    check_version(queue, if_match)
    if values:
        await _apply(session, queue, values, new=False)
        queue.version += 1
    return queue


async def delete_queue(session: AsyncSession, *, queue_id: uuid.UUID, if_match: str | None) -> None:
    queue = await get_queue(session, queue_id, for_update=True)
    check_version(queue, if_match)
    used = await users_of(session, queue)
    if used:
        raise ProblemError(QUEUE_IN_USE, f"{used[0]} still uses this queue", used_by=used)
    await session.delete(queue)
    await session.flush()


async def users_of(session: AsyncSession, queue: Queue) -> list[str]:
    """What would lose its queue: calls in it now, numbers routed to it, IVR nodes that send
    callers to it, and other queues that overflow into it."""
    used: list[str] = []
    busy = await session.scalar(
        select(func.count())
        .select_from(QueueItem)
        .where(QueueItem.queue_id == queue.id, QueueItem.status.in_(BUSY_STATUSES))
    )
    if busy:
        used.append(f"{busy} call(s) waiting or being served")
    used += [f"number {n}" for n in await routed_numbers(session, ROUTE, str(queue.id))]
    used += await nodes_naming(session, "queue_id", str(queue.id))
    others = await session.scalars(select(Queue).where(Queue.id != queue.id).order_by(Queue.name))
    used += [
        f"queue {other.name} (overflow)"
        for other in others
        if (other.overflow or {}).get("queue_id") == str(queue.id)
    ]
    return used


def _defaults(queue: Queue) -> None:
    """The column defaults on the new object, so that checks can read them before a flush."""
    for column in Queue.__table__.columns:
        default = column.default
        if default is not None and getattr(queue, column.key) is None and default.is_scalar:
            setattr(queue, column.key, default.arg)


async def _apply(
    session: AsyncSession, queue: Queue, values: Mapping[str, Any], *, new: bool
) -> None:
    problems = Problems()
    for name, value in values.items():
        if value is None and name not in NULLABLE:
            problems.add([name], "may not be null")
    settable = {k: v for k, v in values.items() if v is not None or k in NULLABLE}
    scalars = {k: v for k, v in settable.items() if k not in MEMBERS}
    candidate = {c.key: getattr(queue, c.key) for c in Queue.__table__.columns} | scalars
    if "required_skills" in scalars:
        candidate["required_skills"] = _skills(scalars["required_skills"], problems)
    if "music_url" in scalars and scalars["music_url"] is not None:
        _music(scalars["music_url"], problems)
    touches_skills = "strategy" in settable or "required_skills" in settable
    unskilled = candidate["strategy"] == Strategy.SKILLS and not candidate["required_skills"]
    if touches_skills and unskilled:
        problems.add(["strategy"], "the skills strategy needs at least one required skill")
    if "overflow" in scalars:
        candidate["overflow"] = await _overflow(session, queue.id, scalars["overflow"], problems)
    agent_ids = await _existing(session, Agent, settable.get("agent_ids"), "agent_ids", problems)
    team_ids = await _existing(session, Team, settable.get("team_ids"), "team_ids", problems)
    if "name" in scalars and scalars["name"] != queue.name:
        taken = await session.scalar(
            select(Queue.id).where(Queue.name == scalars["name"], Queue.id != queue.id)
        )
        if taken is not None:
            raise ProblemError(QUEUE_EXISTS, f"a queue named {scalars['name']!r} exists")
    problems.raise_if_any()
    for key in scalars:
        setattr(queue, key, candidate[key])
    if new:
        session.add(queue)
    try:
        await session.flush()
    except IntegrityError:  # a concurrent create took the name
        raise ProblemError(QUEUE_EXISTS, "a queue of this name exists") from None
    if agent_ids is not None:
        await session.execute(delete(QueueAgent).where(QueueAgent.queue_id == queue.id))
        session.add_all(QueueAgent(queue_id=queue.id, agent_id=a) for a in agent_ids)
    if team_ids is not None:
        await session.execute(delete(QueueTeam).where(QueueTeam.queue_id == queue.id))
        session.add_all(QueueTeam(queue_id=queue.id, team_id=t) for t in team_ids)
    await session.flush()


def _skills(skills: list[dict[str, Any]], problems: Problems) -> list[dict[str, Any]]:
    seen: set[str] = set()
    for index, skill in enumerate(skills):
        key = skill["skill"].casefold()
        if key in seen:
            problems.add(["required_skills", index, "skill"], "this skill is required twice")
        seen.add(key)
    return [{"skill": s["skill"], "min_level": s["min_level"]} for s in skills]


def _music(url: str, problems: Problems) -> None:
    """The provider fetches hold music from its own network, never the platform, so the
    platform's outbound (SSRF) policy does not apply; the URL must still be one a provider
    can fetch: http(s), a host, no credentials."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        parts, host = None, None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        problems.add(["music_url"], "must be an http:// or https:// URL with a host")
    elif parts.username is not None or parts.password is not None:
        problems.add(["music_url"], "must not carry credentials (the provider would log them)")


async def _overflow(
    session: AsyncSession, queue_id: uuid.UUID, overflow: dict[str, Any] | None, problems: Problems
) -> dict[str, Any]:
    if overflow is None:
        return {}
    kind = OverflowKind(overflow["kind"])
    wanted = {
        OverflowKind.QUEUE: {"queue_id"},
        OverflowKind.IVR: {"flow_id", "node_id"},
        OverflowKind.VOICEMAIL: set(),
        OverflowKind.HANGUP: set(),
    }[kind]
    allowed = wanted | (
        {"message"} if kind in (OverflowKind.VOICEMAIL, OverflowKind.HANGUP) else set()
    )
    for name in ("queue_id", "flow_id", "node_id", "message"):
        value = overflow.get(name)
        if name in wanted and value is None:
            problems.add(["overflow", name], f"required for overflow kind {kind.value}", "missing")
        elif name not in allowed and value is not None:
            problems.add(["overflow", name], f"not used by overflow kind {kind.value}")
    stored: dict[str, Any] = {"kind": kind.value}
    if kind is OverflowKind.QUEUE and overflow.get("queue_id") is not None:
        target = overflow["queue_id"]
        stored["queue_id"] = str(target)
        why = await _queue_target_problem(session, queue_id, target)
        if why:
            problems.add(["overflow", "queue_id"], why)
    if kind is OverflowKind.IVR and overflow.get("flow_id") and overflow.get("node_id"):
        stored |= {"flow_id": str(overflow["flow_id"]), "node_id": overflow["node_id"]}
        why = await node_problem(session, overflow["flow_id"], overflow["node_id"])
        if why:
            loc = "flow_id" if "node" not in why else "node_id"
            problems.add(["overflow", loc], why)
    if overflow.get("message") and "message" in allowed:
        stored["message"] = overflow["message"]
    return stored


async def _queue_target_problem(
    session: AsyncSession, queue_id: uuid.UUID, target: uuid.UUID
) -> str | None:
    """Why callers cannot overflow into queue ``target``: it does not exist, is this queue,
    or overflows back into this one (callers would go round for ever)."""
    if target == queue_id:
        return "a queue cannot overflow into itself"
    chain = {q.id: (q.overflow or {}).get("queue_id") for q in await session.scalars(select(Queue))}
    if target not in chain:
        return "no queue of the organization has this id"
    seen: set[uuid.UUID] = {queue_id}
    step: uuid.UUID | None = target
    while step is not None:
        if step in seen:
            return "the target's overflow leads back to this queue (callers would loop)"
        seen.add(step)
        following = chain.get(step)
        step = uuid.UUID(following) if following else None
    return None


async def _existing(
    session: AsyncSession,
    model: type[Agent] | type[Team],
    ids: list[uuid.UUID] | None,
    name: str,
    problems: Problems,
) -> list[uuid.UUID] | None:
    """``ids`` without duplicates, each checked to exist in the organization (None: the list
    was not sent)."""
    if ids is None:
        return None
    found = set(await session.scalars(select(model.id).where(model.id.in_(ids)))) if ids else set()
    kind = "agent" if model is Agent else "team"
    for index, item in enumerate(ids):
        if item not in found:
            problems.add([name, index], f"no {kind} of the organization has this id")
    return list(dict.fromkeys(ids))
