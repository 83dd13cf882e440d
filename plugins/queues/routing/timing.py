"""How long things last: offer timeouts and wrap-ups (queue, then agent, then tenant)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plugins.agents import Agent, AgentSettingsRow
from plugins.queues.models import Queue

DEFAULT_WRAP_UP_SECONDS = 30
DEFAULT_OFFER_TIMEOUT_SECONDS = 20
LEG_GRACE_SECONDS = 5
"""An offer whose agent leg rings expires this much after the leg's own timeout: the
provider's no-answer normally comes first; the expiry is for a leg never placed (a crash)."""


@dataclass(frozen=True, slots=True)
class Defaults:
    wrap_up_seconds: int = DEFAULT_WRAP_UP_SECONDS
    offer_timeout_seconds: int = DEFAULT_OFFER_TIMEOUT_SECONDS


async def tenant_defaults(session: AsyncSession) -> Defaults:
    row = await session.scalar(select(AgentSettingsRow).limit(1))
    if row is None:
        return Defaults()
    return Defaults(row.default_wrap_up_seconds, row.offer_timeout_seconds)


def offer_timeout(queue: Queue, defaults: Defaults) -> int:
    return queue.offer_timeout_seconds or defaults.offer_timeout_seconds


async def wrap_up_seconds(session: AsyncSession, queue: Queue | None, agent: Agent) -> int:
    """The queue's wrap-up, else the agent's, else the organization's (read only then)."""
    if queue is not None and queue.wrap_up_seconds is not None:
        return queue.wrap_up_seconds
    if agent.wrap_up_seconds is not None:
        return agent.wrap_up_seconds
    return (await tenant_defaults(session)).wrap_up_seconds
