"""Reading flows and versions in the tenant's session, and the loader the engine uses.

Published versions never change, so their parsed form is cached per process (keyed by tenant
and version id); a draft is parsed each time."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import ProblemError
from plugins.ivr.engine import FlowError
from plugins.ivr.flowdoc import ParsedFlow
from plugins.ivr.models import Flow, FlowVersion
from plugins.ivr.problems import FLOW_NOT_FOUND, VERSION_NOT_FOUND
from plugins.ivr.registry import IvrState

CACHE_SIZE = 2000
_parsed: OrderedDict[tuple[uuid.UUID, uuid.UUID], ParsedFlow] = OrderedDict()


async def get_flow(session: AsyncSession, flow_id: uuid.UUID, *, for_update: bool = False) -> Flow:
    query = select(Flow).where(Flow.id == flow_id)
    if for_update:
        query = query.with_for_update()
    flow = await session.scalar(query)
    if flow is None:
        raise ProblemError(FLOW_NOT_FOUND)
    return flow


async def get_version(session: AsyncSession, flow_id: uuid.UUID, number: int) -> FlowVersion:
    version = await session.scalar(
        select(FlowVersion).where(FlowVersion.flow_id == flow_id, FlowVersion.number == number)
    )
    if version is None:
        raise ProblemError(VERSION_NOT_FOUND)
    return version


async def latest_number(session: AsyncSession, flow_id: uuid.UUID) -> int:
    number = await session.scalar(
        select(func.max(FlowVersion.number)).where(FlowVersion.flow_id == flow_id)
    )
    return int(number or 0)


def parse_version(ivr: IvrState, version: FlowVersion) -> ParsedFlow:
    key = (version.tenant_id, version.id)
    cached = _parsed.get(key)
    if cached is not None:
        _parsed.move_to_end(key)
        return cached
    parsed = ivr.parse(
        version.document, flow_id=version.flow_id, version_id=version.id, version=version.number
    )
    _parsed[key] = parsed
    if len(_parsed) > CACHE_SIZE:
        _parsed.popitem(last=False)
    return parsed


class DatabaseLoader:
    """Versions from the tenant's tables; the draft being simulated, when there is one."""

    def __init__(
        self,
        ivr: IvrState,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        draft: ParsedFlow | None = None,
    ) -> None:
        self.ivr = ivr
        self.session = session
        self.tenant_id = tenant_id
        self.draft = draft

    async def version(self, flow_id: uuid.UUID | None, version_id: uuid.UUID | None) -> ParsedFlow:
        if version_id is None:
            if self.draft is None:
                raise FlowError("no draft to run")
            return self.draft
        cached = _parsed.get((self.tenant_id, version_id))
        if cached is not None:
            return cached
        version = await self.session.scalar(select(FlowVersion).where(FlowVersion.id == version_id))
        if version is None:
            raise FlowError(f"version {version_id} of flow {flow_id} is gone")
        return parse_version(self.ivr, version)

    async def published(self, flow_id: uuid.UUID) -> ParsedFlow:
        row = await self.session.execute(
            select(FlowVersion)
            .join(Flow, Flow.current_version_id == FlowVersion.id)
            .where(Flow.id == flow_id)
        )
        version = row.scalar_one_or_none()
        if version is None:
            raise FlowError(f"flow {flow_id} does not exist or has no published version")
        return parse_version(self.ivr, version)


def document_of(flow: Flow) -> dict[str, Any]:
    return dict(flow.draft)
