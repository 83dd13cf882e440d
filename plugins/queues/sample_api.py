"""``POST /api/v1/queues/samples/support/import``: the support sample in one call
(:mod:`plugins.queues.sample`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from kernel import (
    PlatformDep,
    Principal,
    SessionDep,
    problem_responses,
    record_audit_event,
    require,
)
from plugins.agents import AGENTS_ALL, AGENTS_WRITE, STATE_FORCE
from plugins.calls import NUMBERS_WRITE
from plugins.queues import sample
from plugins.queues.permissions import QUEUES_WRITE
from plugins.queues.problems import SAMPLE_EXISTS
from plugins.queues.schemas import SampleImportOut, SampleNumberOut

router = APIRouter(tags=["queues"])

Writer = Annotated[Principal, Depends(require(QUEUES_WRITE.resource, QUEUES_WRITE.action))]
ALSO_NEEDED = (
    (AGENTS_WRITE.resource, AGENTS_WRITE.action),
    (AGENTS_ALL.resource, AGENTS_ALL.action),
    (STATE_FORCE.resource, STATE_FORCE.action),
    ("ivr.flows", "write"),
    ("ivr.flows", "publish"),
    (NUMBERS_WRITE.resource, NUMBERS_WRITE.action),
)
"""What the objects the sample creates need, besides ``queues:write``."""


@router.post(
    "/samples/support/import",
    response_model=SampleImportOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create a small contact center: agents, a queue, a published flow, a number",
    responses=problem_responses(SAMPLE_EXISTS),
    dependencies=[Depends(require(resource, action)) for resource, action in ALSO_NEEDED],
)
async def import_support_sample(
    principal: Writer, session: SessionDep, platform: PlatformDep, request: Request
) -> SampleImportOut:
    """Three loopback agents, available (Ava answers after 2 s and talks 20 s, Ben answers
    after 4 s and talks 40 s, Cleo declines); the queue "Support" they serve (5 s of
    wrap-up); the IVR's front desk as the flow "Support line", published, whose "2 for
    support" puts callers in the queue (overflow and timeout: voicemail), open around the
    clock, with its saved tests; and the first of your numbers that routes nowhere (loopback
    ones first) routed to it. Needs `queues:write`, `agents:write`, `agents:all`,
    `agents.state:force`, `ivr.flows:write`, `ivr.flows:publish` and
    `calls.numbers:write`. A second import is a 409."""
    made = await sample.import_support(platform, session, actor=principal.subject[:80])
    record_audit_event(
        session,
        principal,
        "queues.sample_imported",
        request=request,
        target_type="queue",
        target_id=made.queue_id,
        details={"sample": sample.NAME, "flow_id": str(made.flow_id)},
    )
    await session.commit()
    number = made.number
    return SampleImportOut(
        queue_id=made.queue_id,
        agent_ids=made.agent_ids,
        flow_id=made.flow_id,
        flow_version=made.flow_version,
        number=None if number is None else SampleNumberOut(id=number.id, number=number.number),
    )
