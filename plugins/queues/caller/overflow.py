"""Where a caller goes when the queue is full or they waited too long: back to the IVR node
the enqueue node named for it, else the queue's overflow target (another queue keeping
their place in line, voicemail, an IVR flow at a node, or a goodbye)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from kernel import utcnow
from plugins.calls import CallTurn, Hangup, Record, Say, hand_over
from plugins.queues.caller import hold
from plugins.queues.caller.entering import Caller, enter, is_full, queue_for_update
from plugins.queues.caller.leaving import overflowed
from plugins.queues.models import OverflowKind, Queue, QueueItem

Reason = Literal["full", "max_wait"]

DEFAULT_GOODBYE = "We are sorry, nobody can take your call right now. Please call again later."
DEFAULT_VOICEMAIL = "Nobody is free to take your call. Please leave a message after the tone."
VOICEMAIL_SECONDS = 120
MAX_HOPS = 3
"""Queue-to-queue overflow stops here (a loop of full queues ends in a goodbye)."""


def _goodbye(message: str | None = None) -> list[Any]:
    return [Say(text=message or DEFAULT_GOODBYE), Hangup()]


async def overflow(
    turn: CallTurn, queue: Queue, item: QueueItem, caller: Caller, *, reason: Reason
) -> list[Any]:
    """Send the caller on; ``item`` (already in the session) ends ``overflowed``."""
    session, platform = turn.session, turn.platform
    back = (item.context.get("return") or {}).get("overflow" if reason == "full" else "timeout")
    if back:
        await overflowed(platform, session, item, target=f"ivr:{back}", reason=reason)
        return await _to_ivr(turn, str(back))
    config = dict(queue.overflow or {})
    kind = config.get("kind") or OverflowKind.HANGUP.value
    message = config.get("message") or None
    if kind == OverflowKind.QUEUE.value:
        other = await _other_queue(turn, queue, config.get("queue_id"), item)
        if other is not None:
            await overflowed(platform, session, item, target=f"queue:{other.id}", reason=reason)
            return await _into(turn, other, item, caller, message)
    elif kind == OverflowKind.VOICEMAIL.value:
        await overflowed(platform, session, item, target="voicemail", reason=reason)
        return [
            Say(text=message or DEFAULT_VOICEMAIL),
            Record(max_seconds=VOICEMAIL_SECONDS, play_beep=True),
            Say(text="Thank you. Goodbye."),
            Hangup(),
        ]
    elif kind == OverflowKind.IVR.value and config.get("flow_id") and config.get("node_id"):
        target = f"{config['flow_id']}@{config['node_id']}"
        await overflowed(platform, session, item, target=f"ivr:{target}", reason=reason)
        return [*([Say(text=message)] if message else []), *await _to_ivr(turn, target)]
    await overflowed(platform, session, item, target="hangup", reason=reason)
    return _goodbye(message)


async def _to_ivr(turn: CallTurn, target: str) -> list[Any]:
    try:
        return await hand_over(turn, "ivr", target)
    except ValueError as exc:
        turn.note("queues.overflow-failed", target=target, error=str(exc)[:300])
        return _goodbye()


async def _other_queue(turn: CallTurn, queue: Queue, raw_id: Any, item: QueueItem) -> Queue | None:
    """The overflow queue when it can take the caller (exists, active, has room, not a
    loop of hops)."""
    try:
        other_id = uuid.UUID(str(raw_id))
    except ValueError:
        return None
    hops = int(item.context.get("overflow_hops", 0))
    if other_id == queue.id or hops >= MAX_HOPS:
        return None
    other = await queue_for_update(turn.session, other_id)
    if other is None or not other.active or await is_full(turn.session, other):
        return None
    return other


async def _into(
    turn: CallTurn, other: Queue, item: QueueItem, caller: Caller, message: str | None
) -> list[Any]:
    """A new item in the other queue that keeps the caller's place (``entered_at``)."""
    context = {**item.context, "overflow_hops": int(item.context.get("overflow_hops", 0)) + 1}
    moved = Caller(
        call_id=caller.call_id,
        provider=caller.provider,
        caller_number=caller.caller_number,
        called_number=caller.called_number,
        priority=item.priority,
        context={**context, "overflowed_from": str(item.queue_id)},
    )
    new, _ = await enter(turn.platform, turn.session, other, moved, entered_at=item.entered_at)
    turn.note("queues.entered", queue_id=str(other.id), item_id=str(new.id), via="overflow")
    now = utcnow()
    said = [Say(text=message)] if message else []
    return [
        *said,
        *hold.greeting(other),
        *await hold.announcement(turn.session, other, new),
        hold.hold_step(other, new, now),
    ]
