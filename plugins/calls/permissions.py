"""Permissions of the calls plugin (tenant-scoped)."""

from __future__ import annotations

from kernel import Permission

_STAFF = ("admin", "supervisor")
_FLOOR = ("admin", "supervisor", "agent")

CALLS_READ = Permission(
    "calls", "read", "See calls, their timelines and transcripts.", (*_FLOOR, "integrator")
)
CALLS_CREATE = Permission(
    "calls", "create", "Place outbound calls.", ("admin", "supervisor", "agent", "integrator")
)
CALLS_UPDATE = Permission("calls", "update", "Set a call's disposition, notes and tags.", _FLOOR)
CALLS_CONTROL = Permission(
    "calls", "control", "Hang up, hold, mute and send digits on live calls.", _FLOOR
)
CALLS_FORCE_END = Permission(
    "calls",
    "force-end",
    "End a call at once, whatever its provider says (a call stuck after an outage); audited.",
    ("admin",),
)
CALLS_TRANSFER = Permission("calls", "transfer", "Transfer live calls to a number.", _FLOOR)
CALLS_RECORD = Permission(
    "calls", "record", "Start, pause, resume and stop recording live calls.", _FLOOR
)
RECORDINGS_READ = Permission(
    "calls.recordings", "read", "List call recordings and listen to their audio.", _STAFF
)
RECORDINGS_DELETE = Permission("calls.recordings", "delete", "Delete call recordings.", ("admin",))
NUMBERS_READ = Permission("calls.numbers", "read", "See the organization's phone numbers.", _STAFF)
NUMBERS_WRITE = Permission(
    "calls.numbers", "write", "Add, change and remove phone numbers and their routing.", ("admin",)
)
SETTINGS_READ = Permission(
    "calls.settings", "read", "See the call settings (providers, limits, retention).", _STAFF
)
SETTINGS_WRITE = Permission(
    "calls.settings",
    "write",
    "Change providers, call limits, recording retention and consent.",
    ("admin",),
)

PERMISSIONS = (
    CALLS_READ,
    CALLS_CREATE,
    CALLS_UPDATE,
    CALLS_CONTROL,
    CALLS_FORCE_END,
    CALLS_TRANSFER,
    CALLS_RECORD,
    RECORDINGS_READ,
    RECORDINGS_DELETE,
    NUMBERS_READ,
    NUMBERS_WRITE,
    SETTINGS_READ,
    SETTINGS_WRITE,
)
