"""The ``campaigns`` call handler: calls the campaigns plugin drives itself, dispatched by the
target's prefix (:data:`PREFIXES`):

- ``preview:<attempt id>``: a preview's agent leg (the agent answers, the contact is dialled,
  the outcome recorded: :mod:`plugins.campaigns.preview.turns`);
- ``seat:<seat id>``: an agent's leg in a seat of a progressive or predictive campaign (it
  waits in the seat's conference between calls: :mod:`plugins.campaigns.seats`);
- ``attempt:<attempt id>``: a progressive or predictive call to a contact, joined to a
  seated agent when answered (:mod:`plugins.campaigns.seats.connect`).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plugins.calls import CallHandler, CallTurn, Hangup, Say

HANDLER = "campaigns"
UNAVAILABLE = "This call cannot go on. Goodbye."


@dataclass(frozen=True)
class Target:
    """What one prefix's calls do at each turn (the id after the prefix given)."""

    start: Callable[[CallTurn, uuid.UUID], Awaitable[Sequence[Any]]]
    resume: Callable[[CallTurn, uuid.UUID], Awaitable[Sequence[Any] | None]]
    ended: Callable[[CallTurn, uuid.UUID], Awaitable[None]]
    exists: Callable[[AsyncSession, uuid.UUID], Awaitable[bool]]


async def _attempt_exists(session: AsyncSession, attempt_id: uuid.UUID) -> bool:
    from plugins.campaigns.models import Attempt

    return await session.scalar(select(Attempt.id).where(Attempt.id == attempt_id)) is not None


def _preview() -> Target:
    from plugins.campaigns.preview import turns

    return Target(turns.leg_start, turns.leg_resume, turns.leg_ended, _attempt_exists)


async def _seat_exists(session: AsyncSession, seat_id: uuid.UUID) -> bool:
    from plugins.campaigns.models import Seat

    return await session.scalar(select(Seat.id).where(Seat.id == seat_id)) is not None


async def _hang_up(turn: CallTurn, ident: uuid.UUID) -> Sequence[Any] | None:
    """Nothing a seat's or a contact's call runs reports back; should a step end, hang up."""
    return [Hangup()]


def _seat() -> Target:
    from plugins.campaigns.seats import turns

    return Target(turns.seat_leg_started, _hang_up, turns.seat_leg_ended, _seat_exists)


def _attempt() -> Target:
    from plugins.campaigns.seats import connect

    return Target(connect.answered, _hang_up, connect.ended, _attempt_exists)


PREFIXES: dict[str, Callable[[], Target]] = {
    "preview:": _preview,
    "seat:": _seat,
    "attempt:": _attempt,
}


def parse_target(target: str | None) -> tuple[Target, uuid.UUID] | None:
    for prefix, make in PREFIXES.items():
        if (target or "").startswith(prefix):
            try:
                return make(), uuid.UUID(str(target).removeprefix(prefix))
            except ValueError:
                return None
    return None


class CampaignsHandler(CallHandler):
    name = HANDLER

    async def check_target(self, session: AsyncSession, target: str) -> str | None:
        parsed = parse_target(target)
        if parsed is None:
            return f"not a campaigns target ({', '.join(p + '<id>' for p in PREFIXES)})"
        kind, ident = parsed
        return None if await kind.exists(session, ident) else "no such attempt"

    async def start(self, turn: CallTurn) -> Sequence[Any]:
        parsed = parse_target(turn.call.target)
        if parsed is None:
            turn.note("campaigns.unavailable", target=str(turn.call.target))
            return [Say(text=UNAVAILABLE), Hangup()]
        kind, ident = parsed
        return await kind.start(turn, ident)

    async def resume(self, turn: CallTurn) -> Sequence[Any] | None:
        parsed = parse_target(turn.call.target)
        if parsed is None:
            return [Hangup()]
        kind, ident = parsed
        return await kind.resume(turn, ident)

    async def ended(self, turn: CallTurn) -> None:
        parsed = parse_target(turn.call.target)
        if parsed is not None:
            kind, ident = parsed
            await kind.ended(turn, ident)
