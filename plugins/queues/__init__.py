"""The public API of the ``queues`` plugin: what other plugins (supervisor, campaigns,
analytics) may import. Everything else in ``plugins.queues`` is private. See
``docs/plugins/queues.md``."""

from __future__ import annotations

from plugins.queues.models import (
    ItemStatus,
    Offer,
    OfferStatus,
    Queue,
    QueueItem,
    Strategy,
)
from plugins.queues.permissions import QUEUES_CALLS_WRITE, QUEUES_READ, QUEUES_WRITE
from plugins.queues.serving import queues_served_by

__all__ = [
    "QUEUES_CALLS_WRITE",
    "QUEUES_READ",
    "QUEUES_WRITE",
    "ItemStatus",
    "Offer",
    "OfferStatus",
    "Queue",
    "QueueItem",
    "Strategy",
    "queues_served_by",
]
