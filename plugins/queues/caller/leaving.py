"""A caller leaving the line without an agent: hung up, sent to the overflow target, or
turned into a callback."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, utcnow
from plugins.queues import routing
from plugins.queues.events import CallAbandoned, CallbackRequested, CallOverflowed
from plugins.queues.live import publish_stats
from plugins.queues.models import ItemStatus, QueueItem


def _close(item: QueueItem, status: ItemStatus, outcome: str) -> None:
    now = utcnow()
    item.status = status.value
    item.outcome = outcome[:32]
    item.ended_at = now
    item.wait_seconds = max((now - item.entered_at).total_seconds(), 0.0)


async def abandon(platform: Platform, session: AsyncSession, item: QueueItem) -> None:
    """The caller hung up while waiting (or being offered)."""
    await routing.withdraw(platform, session, item, reason="abandoned")
    _close(item, ItemStatus.ABANDONED, "caller-hangup")
    await platform.events.publish(
        session,
        CallAbandoned(
            item_id=item.id,
            queue_id=item.queue_id,
            call_id=item.call_id,
            kind=item.kind,
            status=item.status,
            wait_seconds=item.wait_seconds,
        ),
    )
    await publish_stats(platform, session, item.queue_id)


async def overflowed(
    platform: Platform, session: AsyncSession, item: QueueItem, *, target: str, reason: str
) -> None:
    """The caller left for the overflow ``target`` (``queue:<id>``, ``ivr:<flow>@<node>``,
    ``voicemail``, ``hangup``) because of ``reason`` (``full``, ``max_wait``)."""
    await routing.withdraw(platform, session, item, reason="overflowed")
    _close(item, ItemStatus.OVERFLOWED, reason)
    await platform.events.publish(
        session,
        CallOverflowed(
            item_id=item.id,
            queue_id=item.queue_id,
            call_id=item.call_id,
            kind=item.kind,
            status=item.status,
            wait_seconds=item.wait_seconds,
            target=target,
            reason=reason,
        ),
    )
    await publish_stats(platform, session, item.queue_id)


async def to_callback(
    platform: Platform, session: AsyncSession, item: QueueItem, *, number: str
) -> None:
    """The caller asked to be called back: the item keeps its place (``entered_at``) and
    waits as a callback; any offer of the live call is withdrawn first."""
    if item.status == ItemStatus.OFFERED.value:
        await routing.withdraw(platform, session, item, reason="callback")
    item.status = ItemStatus.WAITING.value
    item.kind = "callback"
    item.callback_number = number
    await platform.events.publish(
        session,
        CallbackRequested(
            item_id=item.id,
            queue_id=item.queue_id,
            call_id=item.call_id,
            kind=item.kind,
            status=item.status,
        ),
    )
    await routing.wake(platform, session)
    await publish_stats(platform, session, item.queue_id)
