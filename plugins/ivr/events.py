"""Events the IVR publishes: a call's way through its flow (``ivr.session.*``, one
``ivr.step.*`` per node), and flows being published or rolled back (``ivr.flow.*``).

The call-level events share the call as aggregate, so a subscriber sees a call's path in
order. Gathered input marked ``sensitive`` never appears in them."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import Field

from kernel import Event


class IvrCallEvent(Event):
    permission = "ivr.flows:read"
    aggregate = "call_id"

    call_id: uuid.UUID
    flow_id: uuid.UUID
    flow_version: int

    def aggregate_key(self) -> str:
        """One order for all of a call's IVR events (sessions and steps)."""
        return f"ivr.call:{self.call_id}"


class SessionStarted(IvrCallEvent):
    name = "ivr.session.started"
    description = "A call entered a flow (the version it will run until it ends)."

    caller: str
    called: str


class SessionEnded(IvrCallEvent):
    name = "ivr.session.ended"
    description = (
        "A call left its flow: outcome hangup, transferred, voicemail, caller-hangup or "
        "error (the fallback ran), at node `node`."
    )

    outcome: str
    node: str | None = None
    path: list[str] = Field(default_factory=list)


class StepEvent(IvrCallEvent):
    node: str
    node_type: str
    depth: int = 0
    """0 in the call's flow, 1 in a sub-flow it runs, and so on."""
    detail: dict[str, Any] = Field(default_factory=dict)


class StepCompleted(StepEvent):
    name = "ivr.step.completed"
    description = "A node ran and the flow left it through `exit`."

    exit: str


class StepWaiting(StepEvent):
    name = "ivr.step.waiting"
    description = "A node asked the caller something (or records them) and waits."


class StepFailed(StepEvent):
    name = "ivr.step.failed"
    description = "A node failed; the flow's fallback (apology, transfer or hangup) ran."

    error: str
    fallback: str


class FlowEvent(Event):
    permission = "ivr.flows:read"
    aggregate = "flow_id"

    flow_id: uuid.UUID
    flow_name: str
    flow_version: int
    actor: str | None = None


class FlowPublished(FlowEvent):
    name = "ivr.flow.published"
    description = "A flow's draft was published as a new version; new calls run it."


class FlowRolledBack(FlowEvent):
    name = "ivr.flow.rolled-back"
    description = "A flow was pointed back at an earlier version; new calls run it."


EVENT_TYPES: tuple[type[Event], ...] = (
    SessionStarted,
    SessionEnded,
    StepCompleted,
    StepWaiting,
    StepFailed,
    FlowPublished,
    FlowRolledBack,
)
