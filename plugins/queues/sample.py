"""The ``support`` sample (``POST /api/v1/queues/samples/support/import``): a whole small
contact center in one step, built only with the agents', IVR's and calls' public APIs.

Three simulated (loopback) agents, made available: Ava answers after 2 s and talks 20 s, Ben
answers after 4 s and talks 40 s, Cleo declines. The queue "Support" they serve (5 s of
wrap-up). The IVR's front desk sample, published as "Support line", whose "2 for support"
puts callers in that queue (overflow and timeout: voicemail), open around the clock so that a
demo answers at any hour, with its saved tests adjusted to match. And the first of the
organization's numbers that routes nowhere yet (loopback numbers first), routed to the flow.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, ProblemError
from plugins.agents import AgentState, change_state, create_agent
from plugins.calls import PhoneNumber
from plugins.ivr import create_published_flow, sample_flow
from plugins.queues import service
from plugins.queues.models import Queue
from plugins.queues.problems import SAMPLE_EXISTS

NAME = "support"
QUEUE_NAME = "Support"
FLOW_NAME = "Support line"
WRAP_UP_SECONDS = 5
AGENTS: tuple[tuple[str, list[dict[str, Any]]], ...] = (
    ("Ava", [{"answer_after": 2}, {"hangup_after": 20}]),
    ("Ben", [{"answer_after": 4}, {"hangup_after": 40}]),
    ("Cleo", [{"decline_after": 3}]),
)
"""Each agent's name and what their (loopback) phone does when a call is offered."""
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MONDAY_10AM = "2026-11-23T10:00:00-05:00"
EVENING = "2026-11-23T19:30:00-05:00"


@dataclass(frozen=True)
class ImportedSample:
    queue_id: uuid.UUID
    agent_ids: list[uuid.UUID]
    flow_id: uuid.UUID
    flow_version: int
    number: PhoneNumber | None
    """The number routed to the flow (None: the organization had none free)."""


def support_flow(queue_id: uuid.UUID) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The front desk with "support" enqueueing into ``queue_id``, open 24/7; its tests."""
    front_desk = sample_flow("front-desk")
    document = front_desk.document
    nodes = document["nodes"]
    nodes["support"] = {
        "type": "queues.enqueue",
        "label": "Wait for an agent",
        "queue_id": str(queue_id),
        "exits": {"overflow": "voicemail", "timeout": "voicemail"},
    }
    nodes["hours"]["hours"]["weekly"] = {day: [{"open": "00:00", "close": "24:00"}] for day in DAYS}
    replaced = {
        "unknown caller presses 2 for support",
        "nobody answers in support: leave a message",
    }
    replaced |= {"closed in the evening"}
    tests = [test for test in front_desk.tests if test["name"] not in replaced]
    tests += [
        {
            "name": "unknown caller presses 2 and waits for an agent",
            "script": {
                "at": MONDAY_10AM,
                "lookups": {"lookup": {"status": 404}},
                "steps": [{"digits": "2"}],
            },
            "expect": {
                "outcome": "handed-over",
                "end_node": "support",
                "visits": ["hours", "lookup", "welcome", "menu", "support"],
            },
        },
        {
            "name": "open in the evening too",
            "script": {"at": EVENING, "lookups": {"lookup": {"status": 404}}},
            "expect": {"visits": ["hours", "lookup", "welcome", "menu"]},
        },
    ]
    return document, tests


async def import_support(
    platform: Platform, session: AsyncSession, *, actor: str | None
) -> ImportedSample:
    """Create the sample in the session's tenant (nothing committed). Raises the 409
    ``queues-sample-exists`` when its queue exists, the IVR's ``ivr-flow-exists`` when a
    flow has its name."""
    if await session.scalar(select(Queue.id).where(Queue.name == QUEUE_NAME)) is not None:
        raise ProblemError(
            SAMPLE_EXISTS,
            f"the organization has a queue named {QUEUE_NAME!r}: the sample is imported "
            "already (or rename that queue first)",
        )
    agent_ids = []
    for name, phone in AGENTS:
        agent = await create_agent(
            platform,
            session,
            fields={"display_name": name, "reach": {"kind": "loopback", "loopback_script": phone}},
        )
        await change_state(
            platform, session, agent, AgentState.AVAILABLE, cause="supervisor", actor=actor
        )
        agent_ids.append(agent.id)
    queue = await service.create_queue(
        session,
        values={"name": QUEUE_NAME, "wrap_up_seconds": WRAP_UP_SECONDS, "agent_ids": agent_ids},
    )
    document, tests = support_flow(queue.id)
    flow = await create_published_flow(
        platform,
        session,
        name=FLOW_NAME,
        description="The front desk whose support line puts callers in the queue "
        f"{QUEUE_NAME!r}, open around the clock (the queues plugin's support sample).",
        document=document,
        tests=tests,
        note="imported from the queues plugin's support sample",
        actor=actor,
    )
    number = await _free_number(session)
    if number is not None:
        number.route = "ivr"
        number.ivr_flow_id = flow.flow_id
        number.forward_to = None
    return ImportedSample(
        queue_id=queue.id,
        agent_ids=agent_ids,
        flow_id=flow.flow_id,
        flow_version=flow.version,
        number=number,
    )


async def _free_number(session: AsyncSession) -> PhoneNumber | None:
    """The first number that routes nowhere yet, loopback numbers first (``make run``)."""
    loopback_first = case((PhoneNumber.provider == "loopback", 0), else_=1)
    number: PhoneNumber | None = await session.scalar(
        select(PhoneNumber)
        .where(PhoneNumber.route == "none")
        .order_by(loopback_first, PhoneNumber.created_at, PhoneNumber.id)
        .limit(1)
    )
    return number
