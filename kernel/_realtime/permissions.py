"""The permission to open the real-time stream (kernel-declared)."""

from __future__ import annotations

from kernel._types import Permission

EVENTS_SUBSCRIBE = Permission(
    "events",
    "subscribe",
    "Open the real-time event stream (WebSocket or Server-Sent Events); each event is "
    "still delivered only to holders of its own read permission.",
    ("admin", "supervisor", "agent", "integrator"),
)

REALTIME_PERMISSIONS = (EVENTS_SUBSCRIBE,)
