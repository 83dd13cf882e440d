"""What a waiting caller hears: the greeting, their place in line and the estimated wait,
then music (or silence) inside a one-key gather, so the caller can press the callback key
and the next turn comes back when the next announcement is due (or the maximum wait ends)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from plugins.calls import Gather, Pause, Play, Say
from plugins.queues.caller.entering import estimated_wait_seconds, position, spoken_wait
from plugins.queues.models import Queue, QueueItem

IDLE_CHECK_SECONDS = 10
"""With announcements off, how often the hold loop still comes back (the maximum wait)."""
MIN_HOLD_SECONDS = 2


def announcing(queue: Queue) -> bool:
    return (queue.announce_position or queue.announce_wait) and queue.announce_every_seconds > 0


async def announcement(session: AsyncSession, queue: Queue, item: QueueItem) -> list[Any]:
    """The caller's place and estimated wait, as the queue announces them."""
    if not announcing(queue):
        return []
    place = await position(session, item)
    said: list[Any] = []
    if queue.announce_position:
        said.append(Say(text=f"You are number {place} in line."))
    if queue.announce_wait:
        said.append(Say(text=spoken_wait(await estimated_wait_seconds(session, queue, place))))
    return said


def hold_seconds(queue: Queue, item: QueueItem, now: datetime) -> int:
    """How long until the next turn: the announcement interval (or the idle check), cut
    short by the maximum wait."""
    gap = queue.announce_every_seconds if announcing(queue) else IDLE_CHECK_SECONDS
    if item.deadline_at is not None:
        gap = min(gap, math.ceil((item.deadline_at - now).total_seconds()))
    return max(gap, MIN_HOLD_SECONDS)


def hold_step(queue: Queue, item: QueueItem, now: datetime) -> Gather:
    """Music or silence while listening for the callback key. A music track plays once and
    the turn comes back when it ends (announcements are due then at the earliest); silence
    is a pause of the interval minus the gather's one-second timeout."""
    if queue.music_url:
        prompt: list[Any] = [Play(url=queue.music_url)]
    else:
        prompt = [Pause(seconds=hold_seconds(queue, item, now) - 1)]
    return Gather(prompt=prompt, num_digits=1, finish_on_key="", timeout_seconds=1)


def due(item: QueueItem, now: datetime) -> bool:
    """An announcement is due (a turn a second early still counts)."""
    return item.next_announce_at is not None and now + timedelta(seconds=1) >= item.next_announce_at


def schedule_next(queue: Queue, item: QueueItem, now: datetime) -> None:
    every = queue.announce_every_seconds
    item.next_announce_at = now + timedelta(seconds=every) if every > 0 else None


def greeting(queue: Queue) -> list[Any]:
    return [Say(text=queue.greeting)] if queue.greeting.strip() else []


def callback_offer(queue: Queue) -> list[Any]:
    if not queue.callback_enabled:
        return []
    return [
        Say(
            text=f"To be called back when an agent is free, without losing your place, "
            f"press {queue.callback_key}."
        )
    ]
