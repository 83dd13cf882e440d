"""Where an agent's conversation lives, asked of the plugins that put agents on calls.

Agents knows which call an agent is on (``Agent.current_call_id``), not how the plugin that
connected them did it: queues bridge the caller into a conference per queued call, campaigns'
seats keep the agent in a seat conference. A supervisor joining the conversation needs that
conference and the agent's own leg, so agents asks (``kraliki_agent_conversation``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from kernel import Platform
    from plugins.agents.models import Agent

HOOK = "kraliki_agent_conversation"


@dataclass(frozen=True)
class Conversation:
    """An agent's live conversation, as the plugin that connected it knows it."""

    conference: str
    """The provider's conference name (``kq-<queued call id>``, ``kcs-<seat id>``)."""
    provider: str
    """The provider the conference runs on (every leg in it is on that provider)."""
    agent_call_id: uuid.UUID
    """The agent's own leg, a platform call id: coaching (whisper) targets it."""
    customer_call_id: uuid.UUID | None
    """The customer's call (None when it is not a platform call, or not joined yet)."""
    source: str
    """The plugin that answered (``queues``, ``campaigns``)."""


async def agent_conversation(
    platform: Platform, session: AsyncSession, agent: Agent
) -> Conversation | None:
    """The conversation ``agent`` is in now (None: none, or none a plugin knows of): the
    first answer of ``kraliki_agent_conversation``, in plugin order. An implementation that
    raises is logged and counted and left out, so a broken plugin never fails the caller."""
    answers = await platform.hooks.collect_isolated(
        HOOK, platform=platform, session=session, agent=agent
    )
    for _plugin, answer in answers:
        if isinstance(answer, Conversation):
            return answer
    return None
