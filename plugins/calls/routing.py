"""What a call does when the provider asks: a call with a handler (the IVR) asks its handler;
otherwise an outbound call runs the instructions it was placed with and an inbound call goes
where its number routes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform
from plugins.calls import service
from plugins.calls.handlers import CallHandler, CallInput, CallTurn, HandledCall, TurnReason
from plugins.calls.models import Call, PhoneNumber
from plugins.calls.provider import (
    CallStatus,
    Dial,
    Direction,
    Hangup,
    Instruction,
    InstructionsNeeded,
    Pause,
    Say,
)
from plugins.calls.registry import calls_state

logger = logging.getLogger(__name__)

NOT_IN_SERVICE = "The number you have called is not in service. Goodbye."
UNAVAILABLE = "This line cannot take your call right now. Please try again later. Goodbye."
DEFAULT_OUTBOUND: tuple[Any, ...] = (Pause(seconds=14400),)
"""With no instructions, an answered outbound call stays connected (silence) until someone
hangs up or controls it over the API."""

_instructions: TypeAdapter[list[Instruction]] = TypeAdapter(list[Instruction])


def parse_instructions(raw: Sequence[Any]) -> list[Any]:
    return list(_instructions.validate_python(list(raw)))


def dump_instructions(steps: Sequence[Any]) -> list[dict[str, Any]]:
    return list(_instructions.dump_python(list(steps), mode="json"))


async def next_instructions(
    platform: Platform, session: AsyncSession, call: Call, need: InstructionsNeeded
) -> list[Any] | None:
    """The instructions to run now, or None when the platform has nothing to add."""
    if need.reason == "continue":
        try:
            return parse_instructions(need.instructions or ())
        except ValidationError:
            return None
    if need.reason == "inbound":
        await _route_inbound(session, call)
    handler = calls_state(platform).handler(call.handler)
    if call.handler is not None and handler is None:
        logger.warning("call %s: its handler %r is not installed", call.id, call.handler)
        return [Say(text=UNAVAILABLE), Hangup()]
    if handler is not None:
        if need.reason in ("gathered", "dialed"):
            got = CallInput(
                digits=need.digits,
                speech=need.speech,
                confidence=need.confidence,
                dial_status=need.dial_status,
                payment=need.payment,
            )
            return await take_turn(platform, session, call, handler, "input", got)
        return await take_turn(platform, session, call, handler, "start")
    if need.reason == "answered":
        return parse_instructions(call.instructions or []) or list(DEFAULT_OUTBOUND)
    if need.reason == "inbound":
        return await _inbound_without_handler(session, call)
    return None  # input for a call nobody is listening to


async def call_ended(platform: Platform, session: AsyncSession, call: Call) -> None:
    """Tell the call's handler that the call ended (once: on the terminal transition)."""
    handler = calls_state(platform).handler(call.handler)
    if handler is not None:
        await take_turn(platform, session, call, handler, "ended")


async def take_turn(
    platform: Platform,
    session: AsyncSession,
    call: Call,
    handler: CallHandler,
    reason: TurnReason,
    got: CallInput | None = None,
) -> list[Any] | None:
    """Run one handler turn under a savepoint: a handler that fails changes nothing it
    wrote, and the caller hears an apology and a goodbye instead of silence."""
    turn = CallTurn(platform, session, handled(platform, call), reason, got or CallInput())
    try:
        async with session.begin_nested():
            if reason == "start":
                steps: Sequence[Any] | None = await handler.start(turn)
            elif reason == "input":
                steps = await handler.resume(turn)
            else:
                await handler.ended(turn)
                steps = None
            result = None if steps is None else parse_instructions(steps)
    except Exception:
        logger.exception("call %s: handler %r failed (%s)", call.id, handler.name, reason)
        service.note(session, call, "handler-failed", source=handler.name[:16], turn=reason)
        return None if reason == "ended" else [Say(text=UNAVAILABLE), Hangup()]
    for kind, detail in turn.timeline:
        service.note(session, call, kind[:32], source=handler.name[:16], **detail)
    return result


def handled(platform: Platform, call: Call) -> HandledCall:
    providers = calls_state(platform).providers
    spec = providers.get(call.provider) if call.provider in providers else None
    return HandledCall(
        id=call.id,
        tenant_id=call.tenant_id,
        direction=Direction(call.direction),
        status=CallStatus(call.status),
        from_number=call.from_number,
        to_number=call.to_number,
        provider=call.provider,
        target=call.handler_target,
        capabilities=spec.capabilities if spec is not None else frozenset(),
        metadata=dict(call.attributes or {}),
    )


async def _number(session: AsyncSession, call: Call) -> PhoneNumber | None:
    number: PhoneNumber | None = await session.scalar(
        select(PhoneNumber).where(PhoneNumber.number == call.to_number)
    )
    return number


async def _route_inbound(session: AsyncSession, call: Call) -> None:
    """Give an arriving call the handler its number routes to (the IVR and its flow)."""
    if call.handler is not None:
        return
    number = await _number(session, call)
    if number is not None and number.route not in ("none", "forward"):
        call.handler = number.route
        call.handler_target = str(number.ivr_flow_id) if number.ivr_flow_id else None


async def _inbound_without_handler(session: AsyncSession, call: Call) -> list[Any]:
    number = await _number(session, call)
    if number is None:
        return [Say(text=NOT_IN_SERVICE), Hangup()]
    if number.route == "forward" and number.forward_to:
        # Hung up when the forwarded leg ends, answered or not: never a caller left on an
        # open line (a command-style provider keeps the caller's leg after a failed dial).
        return [Dial(number=number.forward_to, caller_id=call.from_number), Hangup()]
    return [Say(text=UNAVAILABLE), Hangup()]
