"""The flow engine: runs a flow from one wait for the caller to the next.

It is the same for a real call and for the simulator: both give it the call's facts, a clock,
a way to make HTTP lookups and a loader of flow versions, and get back the instructions to
run and what happened (steps, an outcome). All per-call state is in :class:`FlowState`, a
JSON document the runtime persists after each turn, so any worker can take the next one.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, Field

from plugins.calls import Dial, Hangup, InstructionList, Say
from plugins.ivr.effects import DeclaredEffect
from plugins.ivr.flowdoc import ParsedFlow
from plugins.ivr.nodes import (
    CallerInput,
    CallFacts,
    End,
    EnterFlow,
    Go,
    HandOver,
    LookupRequest,
    LookupResponse,
    NodeConfig,
    NodeContext,
    Wait,
)

logger = logging.getLogger(__name__)

HANDED_OVER = "handed-over"
"""The outcome of a flow that passed its call to another handler (:class:`HandOver`)."""
MAX_PATH = 1000
"""Steps kept in the state's path (coverage, the simulator, the session record)."""


class FlowError(Exception):
    """The flow cannot go on (a node failed, a sub-flow is missing, an endless loop); the
    call ends in the flow's fallback."""


class Frame(BaseModel):
    flow_id: uuid.UUID | None
    version_id: uuid.UUID | None
    node: str
    return_exit: str = "next"
    """In the flow below: the exit the sub-flow node takes when this flow returns."""


class Waiting(BaseModel):
    node: str
    step: str
    """The kind of instruction waited on (``gather``, ``record``, ``pay``)."""
    then: list[dict[str, Any]] = Field(default_factory=list)
    ends_as: str | None = None
    """The outcome when the call ends during this wait (voicemail: the message was left)."""


class Outcome(BaseModel):
    kind: str
    """``hangup``, ``transferred``, ``voicemail``, ``caller-hangup``, ``error`` (the
    fallback ran), ``handed-over`` (to another call handler), ``incomplete`` (simulator:
    the script ended), or a plugin node's own."""
    node: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class FlowState(BaseModel):
    """A call's place in its flow, persisted between turns."""

    stack: list[Frame]
    variables: dict[str, Any] = Field(default_factory=dict)
    retries: dict[str, int] = Field(default_factory=dict)
    language: str = "en-US"
    voice: str | None = None
    waiting: Waiting | None = None
    outcome: Outcome | None = None
    steps: int = 0
    path: list[str] = Field(default_factory=list)
    """``node:exit`` of every step taken, in order (sub-flow nodes as ``<depth>/node``)."""
    pins: dict[str, uuid.UUID] = Field(default_factory=dict)
    """Sub-flow id -> the version this call runs of it: the one current when the call
    started, so a call never mixes versions published while it is in progress."""


@dataclass(frozen=True, slots=True)
class Step:
    """One thing the flow did, for the timeline, events and the simulator."""

    event: str
    """``completed`` (left through ``exit``), ``waiting``, ``ended`` or ``failed``."""
    node: str
    node_type: str
    flow_id: uuid.UUID | None
    version: int | None
    depth: int
    exit: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    effects: tuple[DeclaredEffect, ...] = ()
    """What the node declared with ``ctx.act`` (on its first step of the turn)."""


@dataclass
class Turn:
    state: FlowState
    instructions: list[Any] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    handover: tuple[str, str | None] | None = None
    """(handler, target) a node passed the call to (the flow ended ``handed-over``)."""

    @property
    def ended(self) -> bool:
        return self.state.outcome is not None


class FlowLoader(Protocol):
    async def version(self, flow_id: uuid.UUID | None, version_id: uuid.UUID | None) -> ParsedFlow:
        """A version (immutable) of a flow; ``version_id`` None: the flow being simulated."""

    async def published(self, flow_id: uuid.UUID) -> ParsedFlow:
        """The version a flow has published now (a sub-flow entered now). Raises
        :class:`FlowError` when there is none."""


@dataclass(frozen=True)
class RunEnv:
    call: CallFacts
    clock: Callable[[], datetime]
    lookup: Callable[[str, LookupRequest], Awaitable[LookupResponse]]
    simulated: bool = False
    max_steps: int = 100
    max_depth: int = 5


def _note(
    turn: Turn,
    frame: Frame,
    node_type: str,
    flow: ParsedFlow,
    event: str,
    exit_: str | None,
    detail: Any,
    effects: tuple[DeclaredEffect, ...] = (),
) -> None:
    """Record a step of ``frame``'s node; one that left or ended the node joins the path."""
    state = turn.state
    depth = len(state.stack) - 1
    turn.steps.append(
        Step(
            event,
            frame.node,
            node_type,
            flow.flow_id,
            flow.version,
            depth,
            exit_,
            dict(detail),
            effects,
        )
    )
    if exit_ is not None or event == "ended":
        state.steps += 1
        label = frame.node if depth == 0 else f"{depth}/{frame.node}"
        if len(state.path) < MAX_PATH:
            state.path.append(f"{label}:{exit_ or event}")


class FlowRunner:
    def __init__(self, loader: FlowLoader, env: RunEnv) -> None:
        self.loader = loader
        self.env = env

    async def start(
        self, flow: ParsedFlow, variables: dict[str, Any] | None = None, *, at: str | None = None
    ) -> Turn:
        """Run ``flow`` from its start node (or from node ``at``)."""
        state = FlowState(
            stack=[
                Frame(
                    flow_id=flow.flow_id,
                    version_id=flow.version_id,
                    node=at or flow.document.start,
                )
            ],
            variables={**flow.document.variables, **(variables or {})},
            language=flow.document.language,
            voice=flow.document.voice,
        )
        await self._pin(flow, state)
        return await self._run(Turn(state), None)

    async def start_at(self, state: FlowState, flow: ParsedFlow, node: str) -> Turn:
        """Run ``flow`` from ``node`` in a call that already ran a flow (handed back to the
        IVR): its variables, retries and path are kept; what it waited on and how it ended
        are not, nor the sub-flows it was in."""
        state.stack = [Frame(flow_id=flow.flow_id, version_id=flow.version_id, node=node)]
        state.waiting = None
        state.outcome = None
        await self._pin(flow, state)
        return await self._run(Turn(state), None)

    async def _pin(self, flow: ParsedFlow, state: FlowState) -> None:
        """Fix now the versions of every sub-flow the flow may run (transitively)."""
        todo = [(flow, 1)]
        while todo:
            parent, depth = todo.pop()
            if depth >= self.env.max_depth:
                continue
            for node_id, config in parent.nodes.items():
                for flow_id in parent.types[node_id].flows(config):
                    if str(flow_id) in state.pins:
                        continue
                    try:
                        sub = await self.loader.published(flow_id)
                    except FlowError:
                        continue  # entering it will fail then, into the fallback
                    if sub.version_id is not None:
                        state.pins[str(flow_id)] = sub.version_id
                        todo.append((sub, depth + 1))

    async def resume(self, state: FlowState, got: CallerInput) -> Turn | None:
        """The wait ended; None when the flow was not waiting (a late or repeated result)."""
        if state.outcome is not None or state.waiting is None:
            return None
        return await self._run(Turn(state), got)

    async def _run(self, turn: Turn, got: CallerInput | None) -> Turn:
        state = turn.state
        count = 0
        try:
            while True:
                frame = state.stack[-1]
                flow = await self.loader.version(frame.flow_id, frame.version_id)
                config = flow.nodes.get(frame.node)
                node_type = flow.types.get(frame.node)
                if config is None or node_type is None:
                    raise FlowError(f"node {frame.node!r} does not exist or is invalid")
                key = f"{len(state.stack)}:{frame.node}"
                ctx = NodeContext(
                    node_id=frame.node,
                    call=self.env.call,
                    variables=state.variables,
                    language=state.language,
                    voice=state.voice,
                    now=self.env.clock(),
                    attempt=state.retries.get(key, 0),
                    simulated=self.env.simulated,
                    lookup=self.env.lookup,
                )
                resumed = got is not None
                if got is not None:
                    state.waiting = None
                    result = await node_type.resume(ctx, config, got)
                    got = None
                else:
                    count += 1
                    if count > self.env.max_steps:
                        raise FlowError(
                            f"more than {self.env.max_steps} nodes without waiting for the "
                            "caller (an endless loop?)"
                        )
                    result = await node_type.enter(ctx, config)
                state.language, state.voice = ctx.language, ctx.voice
                depth = len(state.stack) - 1
                declared = [
                    DeclaredEffect(frame.node, config.type, depth, effect) for effect in ctx.effects
                ]

                def step(
                    event: str,
                    exit_: str | None,
                    detail: Any,
                    at: Frame = frame,
                    node: NodeConfig = config,
                    owner: ParsedFlow = flow,
                    pending: list[DeclaredEffect] = declared,
                ) -> None:
                    # The node's effects go with its first step of the turn (before a
                    # sub-flow's return completes the node that ran it).
                    effects = tuple(pending)
                    pending.clear()
                    _note(turn, at, node.type, owner, event, exit_, detail, effects)

                if isinstance(result, Go):
                    turn.instructions.extend(result.prompts)
                    step("completed", result.exit, result.detail)
                    state.retries.pop(key, None)
                    target = config.exits.get(result.exit)
                    if target is None:
                        raise FlowError(f"node {frame.node!r}: exit {result.exit!r} leads nowhere")
                    frame.node = target
                elif isinstance(result, Wait):
                    turn.instructions.extend([*result.prompts, result.step, *result.then])
                    state.retries[key] = ctx.attempt + 1 if resumed else 0
                    state.waiting = Waiting(
                        node=frame.node,
                        step=str(getattr(result.step, "kind", "step")),
                        then=InstructionList(steps=list(result.then)).model_dump(mode="json")[
                            "steps"
                        ],
                        ends_as=result.ends_as,
                    )
                    step("waiting", None, result.detail)
                    return turn
                elif isinstance(result, EnterFlow):
                    if len(state.stack) >= self.env.max_depth:
                        raise FlowError(f"sub-flows nested deeper than {self.env.max_depth}")
                    pinned = state.pins.get(str(result.flow_id))
                    if pinned is not None:
                        sub = await self.loader.version(result.flow_id, pinned)
                    else:
                        sub = await self.loader.published(result.flow_id)
                    step("entered", None, result.detail)
                    state.stack.append(
                        Frame(
                            flow_id=sub.flow_id,
                            version_id=sub.version_id,
                            node=sub.document.start,
                            return_exit=result.exit,
                        )
                    )
                elif isinstance(result, HandOver):
                    turn.instructions.extend(result.prompts)
                    moved = {"handler": result.handler, "target": result.target}
                    step("ended", None, {"outcome": HANDED_OVER, **moved, **result.detail})
                    state.outcome = Outcome(kind=HANDED_OVER, node=frame.node, detail=moved)
                    turn.handover = (result.handler, result.target)
                    return turn
                else:
                    assert isinstance(result, End)
                    if result.outcome == "return" and len(state.stack) > 1:
                        step("completed", "return", result.detail)
                        back = state.stack.pop()
                        parent = state.stack[-1]
                        parent_flow = await self.loader.version(parent.flow_id, parent.version_id)
                        caller_node = parent_flow.nodes[parent.node]
                        step("completed", back.return_exit, {}, parent, caller_node, parent_flow)
                        target = caller_node.exits.get(back.return_exit)
                        if target is None:
                            raise FlowError(
                                f"node {parent.node!r}: exit {back.return_exit!r} leads nowhere"
                            )
                        parent.node = target
                        continue
                    turn.instructions.extend(result.instructions)
                    outcome = "hangup" if result.outcome == "return" else result.outcome
                    step("ended", None, {"outcome": outcome, **result.detail})
                    state.outcome = Outcome(
                        kind=outcome, node=frame.node, detail=dict(result.detail)
                    )
                    return turn
        except Exception as exc:
            return await self._fallback(turn, exc)

    async def _fallback(self, turn: Turn, exc: Exception) -> Turn:
        state = turn.state
        frame = state.stack[-1]
        error = (
            f"{type(exc).__name__}: {exc}"[:300]
            if not isinstance(exc, FlowError)
            else str(exc)[:300]
        )
        if not isinstance(exc, FlowError):
            logger.warning("IVR flow failed at node %r: %s", frame.node, error)
        try:
            root = await self.loader.version(state.stack[0].flow_id, state.stack[0].version_id)
            fallback = root.document.fallback
            message, transfer_to = fallback.message, fallback.transfer_to
        except Exception:
            from plugins.ivr.flowdoc import Fallback

            message, transfer_to = Fallback().message, None
        said = Say(text=message, language=state.language, voice=state.voice)
        if transfer_to:
            # The hangup runs when the transferred leg ends, so a target that does not answer
            # leaves no caller in silence (a command-style provider would keep the line open).
            dial = Dial(number=transfer_to, caller_id=self.env.call.caller)
            turn.instructions.extend([said, dial, Hangup()])
        else:
            turn.instructions.extend([said, Hangup()])
        action = "transfer" if transfer_to else "hangup"
        turn.steps.append(
            Step(
                "failed",
                frame.node,
                "",
                frame.flow_id,
                None,
                len(state.stack) - 1,
                None,
                {"error": error, "fallback": action},
            )
        )
        state.waiting = None
        state.outcome = Outcome(
            kind="error", node=frame.node, detail={"error": error, "fallback": action}
        )
        return turn
