"""What a call does when the provider asks: an outbound call runs the instructions it was
placed with; an inbound call goes where its number routes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plugins.calls.models import Call, PhoneNumber
from plugins.calls.provider import Dial, Hangup, Instruction, InstructionsNeeded, Pause, Say

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
    session: AsyncSession, call: Call, need: InstructionsNeeded
) -> list[Any] | None:
    """The instructions to run now, or None when the platform has nothing to add."""
    if need.reason == "continue":
        try:
            return parse_instructions(need.instructions or ())
        except ValidationError:
            return None
    if need.reason == "answered":
        steps = parse_instructions(call.instructions or [])
        return steps or list(DEFAULT_OUTBOUND)
    if need.reason == "inbound":
        return await _inbound(session, call)
    return None  # gathered digits: the IVR plugin will decide; nothing to run yet


async def _inbound(session: AsyncSession, call: Call) -> list[Any]:
    number = await session.scalar(select(PhoneNumber).where(PhoneNumber.number == call.to_number))
    if number is None:
        return [Say(text=NOT_IN_SERVICE), Hangup()]
    if number.route == "forward" and number.forward_to:
        return [Dial(number=number.forward_to, caller_id=call.from_number)]
    return [Say(text=UNAVAILABLE), Hangup()]
