"""Agents another plugin makes, as the API makes them: a sample contact center's simulated
(loopback) agents, say. Same checks and events as ``POST /api/v1/agents``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform
from plugins.agents import service
from plugins.agents.models import Agent
from plugins.agents.schemas import AgentCreate
from plugins.agents.scope import AgentScope


async def create_agent(
    platform: Platform, session: AsyncSession, *, fields: Mapping[str, Any]
) -> Agent:
    """Create an agent in the session's tenant as ``POST /api/v1/agents`` does for someone
    with ``agents:all``. ``fields`` are that route's body (``display_name``, ``reach``,
    ``wrap_up_seconds``...): a pydantic ``ValidationError`` if they are not one, a
    :class:`~kernel.ProblemError` for what the route refuses (422, 409). The agent starts
    ``offline`` (:func:`~plugins.agents.change_state` moves it); nothing is committed."""
    values = AgentCreate.model_validate(fields).model_dump(exclude_unset=True)
    return await service.create_agent(session, platform, values=values, scope=AgentScope(all=True))
