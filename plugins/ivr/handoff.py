"""What a plugin that took a call from a flow (a ``HandOver`` node: the queues' enqueue) may
read about where the call was: the node that passed it on, its configuration, the path and
the variables, for an agent's screen and for handing the caller back to that flow."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plugins.ivr.models import FlowSession, FlowVersion


@dataclass(frozen=True, slots=True)
class HandedOverFrom:
    """The flow a call was handed over from, as it was at that moment."""

    flow_id: uuid.UUID
    """The flow holding ``node`` (a sub-flow's, when the node was in one)."""
    node: str
    node_config: dict[str, Any]
    """The node's configuration as published (``type``, ``exits``, its own fields)."""
    path: list[str] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)


async def handed_over_from(session: AsyncSession, call_id: uuid.UUID) -> HandedOverFrom | None:
    """Where the call's flow handed it over to another handler, or None when its flow did
    not end that way (or the call ran no flow)."""
    flow_session = await session.scalar(select(FlowSession).where(FlowSession.call_id == call_id))
    if flow_session is None or flow_session.outcome != "handed-over":
        return None
    state = flow_session.state or {}
    node = (state.get("outcome") or {}).get("node")
    stack = state.get("stack") or []
    if not node or not stack:
        return None
    frame = stack[-1]
    version_id = uuid.UUID(frame["version_id"]) if frame.get("version_id") else None
    flow_id = uuid.UUID(frame["flow_id"]) if frame.get("flow_id") else flow_session.flow_id
    document = await session.scalar(
        select(FlowVersion.document).where(
            FlowVersion.id == (version_id or flow_session.version_id)
        )
    )
    config = ((document or {}).get("nodes") or {}).get(node)
    if not isinstance(config, dict):
        return None
    return HandedOverFrom(
        flow_id=flow_id,
        node=str(node),
        node_config=dict(config),
        path=[str(step) for step in state.get("path") or []],
        variables=dict(state.get("variables") or {}),
    )
