"""Shared by the IVR tests (imported by name: test directories are not packages)."""

from __future__ import annotations

import uuid
from typing import Any

from plugins.ivr.config import IvrSettings
from plugins.ivr.engine import FlowError
from plugins.ivr.flowdoc import ParsedFlow
from plugins.ivr.permissions import PERMISSIONS as IVR_PERMISSIONS
from plugins.ivr.registry import IvrState, builtin_types
from plugins.ivr.simulator import Script, Simulation, simulate

IVR_ALL = tuple(p.key for p in IVR_PERMISSIONS)
MONDAY_10AM = "2026-11-23T10:00:00-05:00"
STATE = IvrState(settings=IvrSettings(), types=builtin_types())


def parse(document: dict[str, Any], *, flow_id: uuid.UUID | None = None) -> ParsedFlow:
    return STATE.parse(document, flow_id=flow_id)


def flow(start: str, **nodes: dict[str, Any]) -> dict[str, Any]:
    """A flow document: ``flow("a", a={...}, b={...})``."""
    return {"start": start, "nodes": nodes}


class StaticLoader:
    """Flows held in memory: the draft under test and published sub-flows by id."""

    def __init__(self, draft: ParsedFlow, published: dict[uuid.UUID, ParsedFlow] | None = None):
        self.draft = draft
        self.published_flows = published or {}
        self.versions = {p.version_id: p for p in self.published_flows.values()}
        """Every version ever published here (versions are kept when a new one is)."""

    async def version(self, flow_id: uuid.UUID | None, version_id: uuid.UUID | None) -> ParsedFlow:
        if version_id is None:
            return self.draft
        self.versions.update({p.version_id: p for p in self.published_flows.values()})
        if version_id in self.versions:
            return self.versions[version_id]
        raise FlowError("no such version")

    async def published(self, flow_id: uuid.UUID) -> ParsedFlow:
        if flow_id not in self.published_flows:
            raise FlowError(f"flow {flow_id} has no published version")
        return self.published_flows[flow_id]


async def run(
    document: dict[str, Any],
    *steps: dict[str, Any],
    published: dict[uuid.UUID, ParsedFlow] | None = None,
    **script: Any,
) -> Simulation:
    """Simulate ``document`` with a caller doing ``steps``."""
    parsed = parse(document)
    return await simulate(
        parsed,
        StaticLoader(parsed, published),
        Script.model_validate({**script, "steps": list(steps)}),
    )


def published_version(document: dict[str, Any]) -> tuple[uuid.UUID, ParsedFlow]:
    flow_id, version_id = uuid.uuid4(), uuid.uuid4()
    return flow_id, STATE.parse(document, flow_id=flow_id, version_id=version_id, version=1)
