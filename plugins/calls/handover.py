"""Handing a call over to another handler within a turn: an IVR node passes the caller to the
queues handler, a queue passes it back to an IVR flow at a node."""

from __future__ import annotations

from typing import Any

from plugins.calls import service
from plugins.calls.handlers import CallTurn
from plugins.calls.registry import calls_state
from plugins.calls.routing import take_turn


async def hand_over(turn: CallTurn, handler: str, target: str | None) -> list[Any]:
    """Make ``handler`` (with ``target``) the call's handler and return its ``start``
    instructions, for the current handler to return as its own.

    The change is written in the turn's transaction: if the current handler then fails, its
    savepoint takes the hand-over back with everything else it wrote. The new handler's turn
    runs under the same rules as any turn (its own savepoint; a failure is an apology and a
    goodbye). Raises ``ValueError`` for an ended call, a handler that is not installed, or a
    target the handler refuses (``CallHandler.check_target``)."""
    if turn.reason == "ended":
        raise ValueError("a call that ended cannot be handed over")
    state = calls_state(turn.platform)
    new = state.handler(handler)
    if new is None:
        raise ValueError(f"no call handler named {handler!r} is installed")
    if target is not None:
        refused = await new.check_target(turn.session, target)
        if refused is not None:
            raise ValueError(f"{handler} cannot take target {target!r}: {refused}")
    call = await service.get_call(turn.session, turn.call.id, for_update=True)
    previous = call.handler
    call.handler, call.handler_target = handler, target
    service.note(
        turn.session,
        call,
        "handed-over",
        source=(previous or "platform")[:16],
        handler=handler,
        target=target,
    )
    steps = await take_turn(turn.platform, turn.session, call, new, "start")
    return list(steps or ())
