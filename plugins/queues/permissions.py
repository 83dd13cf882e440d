"""Permissions of the queues plugin (tenant-scoped)."""

from __future__ import annotations

from kernel import Permission

QUEUES_READ = Permission(
    "queues",
    "read",
    "See queues, their members, the calls waiting in them and their live figures.",
    ("admin", "supervisor", "agent", "integrator"),
)
QUEUES_WRITE = Permission(
    "queues",
    "write",
    "Create, change and delete queues and choose who serves them.",
    ("admin",),
)
QUEUES_CALLS_WRITE = Permission(
    "queues.calls",
    "write",
    "Put a live call in a queue, move a waiting call to another queue or agent, take it out.",
    ("admin", "supervisor", "integrator"),
)

PERMISSIONS = [QUEUES_READ, QUEUES_WRITE, QUEUES_CALLS_WRITE]
