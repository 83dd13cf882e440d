"""The IVR node type ``queues.enqueue``: the flow hands the caller to a queue. The queue
keeps the flow's path and variables for the agent, and sends the caller back to the node's
``overflow`` exit when it is full, or its ``timeout`` exit after the maximum wait (exits left
unwired: the queue's own overflow target)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import Field

from plugins.ivr import ExitSpec, HandOver, NodeConfig, NodeContext, NodeResult, NodeType

NODE_TYPE = "queues.enqueue"
EXITS = ExitSpec(optional=frozenset({"overflow", "timeout"}))


class EnqueueConfig(NodeConfig):
    type: Literal["queues.enqueue"] = "queues.enqueue"
    queue_id: uuid.UUID = Field(description="The queue the caller joins.")
    priority: int | None = Field(
        default=None,
        ge=-100,
        le=100,
        description="The caller's priority in the queue (higher first); unset: the flow's "
        "`queue_priority` variable, else 0.",
    )


class EnqueueNode(NodeType):
    name = NODE_TYPE
    config = EnqueueConfig
    ends = True
    description = (
        "Put the caller in a queue to wait for an agent. The agent sees the flow's path and "
        "variables. Exits: `overflow` (the queue is full) and `timeout` (the maximum wait "
        "passed) bring the caller back to the flow; unwired, the queue's overflow applies."
    )

    def exits(self, config: Any) -> ExitSpec:
        return EXITS

    async def enter(self, ctx: NodeContext, config: EnqueueConfig) -> NodeResult:
        return HandOver(
            handler="queues",
            target=str(config.queue_id),
            detail={"queue_id": str(config.queue_id), "priority": config.priority},
        )
