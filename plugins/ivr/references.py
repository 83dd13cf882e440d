"""What other plugins ask the IVR about its flows: whether a caller can be sent to a node
(another plugin's overflow or return target ``<flow>@<node>``), and which nodes name one of
their things (a queue must not be deleted while an IVR node sends callers to it)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plugins.ivr.models import Flow, FlowVersion


async def flow_problem(session: AsyncSession, flow_id: uuid.UUID) -> str | None:
    """Why calls cannot be sent to flow ``flow_id`` from its start (a message), or None when
    they can: the flow exists and has a published version."""
    return (await _published(session, flow_id))[1]


async def _published(session: AsyncSession, flow_id: uuid.UUID) -> tuple[Flow | None, str | None]:
    flow = await session.scalar(select(Flow).where(Flow.id == flow_id))
    if flow is None:
        return None, "no flow of the organization has this id"
    if flow.current_version_id is None:
        return None, "the flow has no published version yet"
    return flow, None


async def node_problem(session: AsyncSession, flow_id: uuid.UUID, node_id: str) -> str | None:
    """Why calls cannot be sent to node ``node_id`` of flow ``flow_id`` (a message), or None
    when they can: the flow exists, is published, and its published version has the node."""
    flow, why = await _published(session, flow_id)
    if flow is None:
        return why
    document = await session.scalar(
        select(FlowVersion.document).where(FlowVersion.id == flow.current_version_id)
    )
    nodes = (document or {}).get("nodes", {})
    if node_id not in nodes:
        return f"the flow's published version has no node {node_id!r}"
    return None


async def nodes_naming(session: AsyncSession, field: str, value: str) -> list[str]:
    """The nodes (``flow <name> node <id>``) whose ``field`` is ``value``, in every flow's
    draft and published version: what still points at something another plugin owns."""
    current = {
        version.id: version.document
        for version in await session.scalars(
            select(FlowVersion).join(Flow, Flow.current_version_id == FlowVersion.id)
        )
    }
    found: list[str] = []
    for flow in await session.scalars(select(Flow).order_by(Flow.name)):
        documents = [flow.draft, current.get(flow.current_version_id or flow.id)]
        for node_id in sorted({n for d in documents if d for n in _naming(d, field, value)}):
            found.append(f"flow {flow.name} node {node_id}")
    return found


def _naming(document: dict[str, Any], field: str, value: str) -> list[str]:
    nodes = document.get("nodes", {})
    return [
        node_id
        for node_id, node in nodes.items()
        if isinstance(node, dict) and str(node.get(field, "")) == value
    ]
