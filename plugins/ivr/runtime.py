"""The IVR as a call handler of ``calls``: a call routed to a flow runs the flow's published
version (pinned for the whole call), one turn per provider webhook, its state saved in
``ivr_sessions`` after each so any worker can take the next turn. Every step becomes an
``ivr.step.*`` event and a timeline entry of the call."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Tenant, storable_json, utcnow
from plugins.calls import CallHandler, CallTurn, Direction, HandledCall, Hangup, Say, hand_over
from plugins.ivr import events
from plugins.ivr.effects import DeclaredEffect, EffectScope
from plugins.ivr.engine import FlowRunner, FlowState, Outcome, RunEnv, Step, Turn
from plugins.ivr.flowdoc import Fallback, ParsedFlow
from plugins.ivr.lookups import performer
from plugins.ivr.models import Flow, FlowSession, FlowVersion
from plugins.ivr.nodes import NODE_ID, CallerInput, CallFacts
from plugins.ivr.registry import ivr_state
from plugins.ivr.store import DatabaseLoader, parse_version

logger = logging.getLogger(__name__)

TIMELINE_KIND = "ivr.step"
EFFECT_KIND = "ivr.effect"


def facts(call: HandledCall) -> CallFacts:
    """The caller is whoever is on the line: the one who called in, or the one called out."""
    inbound = call.direction is Direction.INBOUND
    return CallFacts(
        caller=call.from_number if inbound else call.to_number,
        called=call.to_number if inbound else call.from_number,
        direction=call.direction.value,
        call_id=call.id,
        provider=call.provider,
        capabilities=call.capabilities,
    )


def _runner(turn: CallTurn, loader: DatabaseLoader) -> FlowRunner:
    ivr = ivr_state(turn.platform)
    env = RunEnv(
        call=facts(turn.call),
        clock=utcnow,
        lookup=performer(turn.platform, turn.call.tenant_id, ivr.settings.lookup_policy),
        max_steps=ivr.settings.max_steps_per_turn,
        max_depth=ivr.settings.max_subflow_depth,
    )
    return FlowRunner(loader, env)


def _apology() -> list[Any]:
    return [Say(text=Fallback().message), Hangup()]


class IvrHandler(CallHandler):
    name = "ivr"

    async def check_target(self, session: AsyncSession, target: str) -> str | None:
        try:
            flow_id, node = parse_target(target)
        except ValueError:
            return "not a flow id (or <flow id>@<node id>)"
        flow = await session.scalar(select(Flow).where(Flow.id == flow_id))
        if flow is None:
            return "no flow of the organization has this id"
        if flow.current_version_id is None:
            return "the flow has no published version yet"
        if node is not None:
            version = await session.scalar(
                select(FlowVersion.document).where(FlowVersion.id == flow.current_version_id)
            )
            nodes = (version or {}).get("nodes") or {}
            if node not in nodes:
                return f"the flow's published version has no node {node!r}"
        return None

    async def start(self, turn: CallTurn) -> Sequence[Any]:
        session = turn.session
        if await _disabled(session, turn.call.tenant_id):
            turn.note("ivr.unavailable", reason="the IVR is turned off for the organization")
            return _apology()
        try:
            flow_id, node = parse_target(turn.call.target or "")
        except ValueError:
            flow_id, node = None, None
        existing = await _session_of(turn)
        row = None
        if flow_id is not None and existing is not None and existing.flow_id == flow_id:
            # Back in the flow it ran: the version it was pinned to.
            row = await session.scalar(
                select(FlowVersion).where(FlowVersion.id == existing.version_id)
            )
        elif flow_id is not None:
            row = (
                await session.execute(
                    select(FlowVersion)
                    .join(Flow, Flow.current_version_id == FlowVersion.id)
                    .where(Flow.id == flow_id)
                )
            ).scalar_one_or_none()
        if row is None:
            turn.note("ivr.unavailable", reason="the flow does not exist or is not published")
            return _apology()
        ivr = ivr_state(turn.platform)
        parsed = parse_version(ivr, row)
        loader = DatabaseLoader(ivr, session, turn.call.tenant_id)
        if existing is not None:
            return await _resume_at(turn, existing, row, parsed, node or parsed.document.start)
        result = await _runner(turn, loader).start(parsed, at=node)
        flow_session = FlowSession(
            id=uuid.uuid4(),
            call_id=turn.call.id,
            flow_id=row.flow_id,
            version_id=row.id,
            version=row.number,
            state={},
        )
        session.add(flow_session)
        await turn.platform.events.publish(
            session,
            events.SessionStarted(
                call_id=turn.call.id,
                flow_id=row.flow_id,
                flow_version=row.number,
                caller=facts(turn.call).caller,
                called=facts(turn.call).called,
            ),
        )
        turn.note("ivr.started", flow_id=str(row.flow_id), version=row.number, node=node)
        await _record(turn, flow_session, result)
        return await _answer(turn, result)

    async def resume(self, turn: CallTurn) -> Sequence[Any] | None:
        flow_session = await _session_of(turn)
        if flow_session is None or flow_session.status != "active":
            return None
        ivr = ivr_state(turn.platform)
        loader = DatabaseLoader(ivr, turn.session, turn.call.tenant_id)
        dialed = turn.input.dial_status
        got = CallerInput(
            digits=turn.input.digits,
            speech=turn.input.speech,
            confidence=turn.input.confidence,
            dialed=dialed.value if dialed is not None else None,
            payment=turn.input.payment,
        )
        state = FlowState.model_validate(flow_session.state)
        result = await _runner(turn, loader).resume(state, got)
        if result is None:
            return None
        await _record(turn, flow_session, result)
        return await _answer(turn, result)

    async def ended(self, turn: CallTurn) -> None:
        flow_session = await _session_of(turn)
        if flow_session is None or flow_session.status != "active":
            return
        state = FlowState.model_validate(flow_session.state)
        waiting = state.waiting
        node = waiting.node if waiting else (state.stack[-1].node if state.stack else None)
        if waiting is not None and waiting.ends_as:
            # The wait ended the flow (a voicemail left, then the provider hung up after
            # the goodbye it already had): as if the node had finished.
            depth = len(state.stack) - 1
            state.path.append(f"{waiting.node if depth == 0 else f'{depth}/{waiting.node}'}:ended")
            turn.note(TIMELINE_KIND, node=waiting.node, step="ended", depth=depth or None)
        state.outcome = Outcome(
            kind=(waiting.ends_as if waiting else None) or "caller-hangup", node=node
        )
        state.waiting = None
        await _finish(turn, flow_session, state)


def parse_target(target: str) -> tuple[uuid.UUID, str | None]:
    """A handler target: ``<flow id>`` (the flow from its start) or ``<flow id>@<node id>``
    (from that node: how a queue hands a caller back). Raises ``ValueError``."""
    flow, at, node = target.partition("@")
    if at and not re.fullmatch(NODE_ID, node):
        raise ValueError(f"{node!r} is not a node id")
    return uuid.UUID(flow), (node if at else None)


async def _resume_at(
    turn: CallTurn, flow_session: FlowSession, row: FlowVersion, parsed: ParsedFlow, node: str
) -> list[Any]:
    """The call ran a flow before (it was handed to another handler and back): go on at
    ``node`` with its variables and path."""
    ivr = ivr_state(turn.platform)
    loader = DatabaseLoader(ivr, turn.session, turn.call.tenant_id)
    state = FlowState.model_validate(flow_session.state)
    result = await _runner(turn, loader).start_at(state, parsed, node)
    flow_session.flow_id, flow_session.version_id = row.flow_id, row.id
    flow_session.version = row.number
    flow_session.status, flow_session.outcome, flow_session.ended_at = "active", None, None
    turn.note("ivr.resumed", flow_id=str(row.flow_id), version=row.number, node=node)
    await _record(turn, flow_session, result)
    return await _answer(turn, result)


async def _answer(turn: CallTurn, result: Turn) -> list[Any]:
    """The turn's instructions; a flow that handed its call over ends with what the new
    handler starts with (an apology when it cannot take the call)."""
    if result.handover is None:
        return result.instructions
    handler, target = result.handover
    try:
        steps = await hand_over(turn, handler, target)
    except ValueError as exc:
        turn.note("ivr.handover-failed", handler=handler, error=str(exc)[:300])
        return [*result.instructions, *_apology()]
    return [*result.instructions, *steps]


async def _disabled(session: AsyncSession, tenant_id: uuid.UUID) -> bool:
    disabled = await session.scalar(select(Tenant.disabled_plugins).where(Tenant.id == tenant_id))
    return "ivr" in (disabled or ())


async def _session_of(turn: CallTurn) -> FlowSession | None:
    flow_session: FlowSession | None = await turn.session.scalar(
        select(FlowSession).where(FlowSession.call_id == turn.call.id).with_for_update()
    )
    return flow_session


async def _record(turn: CallTurn, flow_session: FlowSession, result: Turn) -> None:
    """Save the state, and tell the timeline and the event bus what the turn did."""
    for step in result.steps:
        await _publish_step(turn, flow_session, step)
    if result.ended:
        await _finish(turn, flow_session, result.state)
    else:
        flow_session.state = result.state.model_dump(mode="json")


async def _publish_step(turn: CallTurn, flow_session: FlowSession, step: Step) -> None:
    base: dict[str, Any] = {
        "call_id": turn.call.id,
        "flow_id": step.flow_id or flow_session.flow_id,
        "flow_version": step.version or flow_session.version,
        "node": step.node,
        "node_type": step.node_type,
        "depth": step.depth,
    }
    event: events.StepEvent | None = None
    if step.event == "completed":
        event = events.StepCompleted(**base, exit=step.exit or "", detail=step.detail)
    elif step.event == "waiting":
        event = events.StepWaiting(**base, detail=step.detail)
    elif step.event == "failed":
        event = events.StepFailed(
            **base,
            error=str(step.detail.get("error", "")),
            fallback=str(step.detail.get("fallback", "")),
        )
    if event is not None:
        await turn.platform.events.publish(turn.session, event)
    turn.note(
        TIMELINE_KIND,
        node=step.node,
        type=step.node_type or None,
        step=step.event,
        exit=step.exit,
        depth=step.depth or None,
        error=step.detail.get("error"),
    )
    for declared in step.effects:
        await _perform(turn, flow_session, step, declared)


async def _perform(
    turn: CallTurn, flow_session: FlowSession, step: Step, declared: DeclaredEffect
) -> None:
    """Perform one effect under a savepoint of its own: one that raises leaves the call,
    the flow and the other effects as they were, and the timeline says so."""
    scope = EffectScope(
        platform=turn.platform,
        session=turn.session,
        tenant_id=turn.call.tenant_id,
        call_id=turn.call.id,
        session_id=flow_session.id,
        flow_id=step.flow_id or flow_session.flow_id,
        flow_version=step.version or flow_session.version,
        node=declared.node,
    )
    effect = declared.effect
    try:
        async with turn.session.begin_nested():
            result = await effect.perform(scope)
            kept = _plain(result) if result else None
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
        logger.warning(
            "call %s: IVR effect %r of node %r failed: %s",
            turn.call.id,
            effect.kind,
            declared.node,
            error,
            exc_info=True,
        )
        turn.note(
            EFFECT_KIND, node=declared.node, effect=effect.kind, outcome="failed", error=error
        )
        return
    turn.note(
        EFFECT_KIND,
        node=declared.node,
        effect=effect.kind,
        outcome="performed",
        result=kept,
    )


def _plain(value: Any) -> Any:
    """JSON the timeline can store (ids and times as strings)."""
    return storable_json(json.loads(json.dumps(dict(value), default=str)))


async def _finish(turn: CallTurn, flow_session: FlowSession, state: FlowState) -> None:
    outcome = state.outcome or Outcome(kind="caller-hangup")
    flow_session.state = state.model_dump(mode="json")
    flow_session.status = "ended"
    flow_session.outcome = outcome.kind[:32]
    flow_session.ended_at = utcnow()
    await turn.platform.events.publish(
        turn.session,
        events.SessionEnded(
            call_id=turn.call.id,
            flow_id=flow_session.flow_id,
            flow_version=flow_session.version,
            outcome=outcome.kind,
            node=outcome.node,
            path=state.path,
        ),
    )
    turn.note("ivr.ended", outcome=outcome.kind, node=outcome.node)
