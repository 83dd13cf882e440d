"""The public API of the ``queues`` plugin: what other plugins (supervisor, campaigns,
analytics) may import: the tables, the permissions, who serves which queue
(:func:`served_queues`) and every queue's live figures in one statement
(:func:`queue_snapshots`, a :class:`QueueSnapshot` per queue). Everything else in
``plugins.queues`` is private. See ``docs/plugins/queues.md``."""

from __future__ import annotations

from plugins.queues.config import queues_settings
from plugins.queues.live import Snapshot as QueueSnapshot
from plugins.queues.live import day_of, time_zone
from plugins.queues.live import snapshots as queue_snapshots
from plugins.queues.models import (
    ItemStatus,
    Offer,
    OfferStatus,
    Queue,
    QueueItem,
    Strategy,
)
from plugins.queues.permissions import QUEUES_CALLS_WRITE, QUEUES_READ, QUEUES_WRITE
from plugins.queues.presence import served_queues

__all__ = [
    "QUEUES_CALLS_WRITE",
    "QUEUES_READ",
    "QUEUES_WRITE",
    "ItemStatus",
    "Offer",
    "OfferStatus",
    "Queue",
    "QueueItem",
    "QueueSnapshot",
    "Strategy",
    "day_of",
    "queue_snapshots",
    "queues_settings",
    "served_queues",
    "time_zone",
]
