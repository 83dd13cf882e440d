"""A plugin that publishes and consumes events, for the event bus tests (also imported by the
crash test's worker subprocess)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from pathlib import Path

from kernel import DeliveredEvent, Event, Permission, PluginInfo, hookimpl

READ = Permission("ledger.entries", "read", "See ledger events.", ("agent",))
AUDIT = Permission("ledger.audit", "read", "See ledger audit events.", ())


class EntryAdded(Event):
    name = "ledger.entry.added"
    permission = "ledger.entries:read"
    aggregate = "account"
    description = "An entry was booked on an account."

    account: str
    amount: int


class AccountAudited(Event):
    name = "ledger.account.audited"
    permission = "ledger.audit:read"
    aggregate = "account"

    account: str


RECEIVED: list[DeliveredEvent] = []
"""What this process's kraliki_event received (tests clear it)."""


@hookimpl
def kraliki_plugin_info() -> PluginInfo:
    return PluginInfo(name="ledger", version="1.0.0")


@hookimpl
def kraliki_permissions() -> Sequence[Permission]:
    return [READ, AUDIT]


@hookimpl
def kraliki_event_types() -> Sequence[type[Event]]:
    return [EntryAdded, AccountAudited]


@hookimpl
def kraliki_event(event: DeliveredEvent) -> None:
    RECEIVED.append(event)
    journal = os.environ.get("LEDGER_JOURNAL")
    if journal:
        # The crash test's worker: write down each delivery, and die hard mid-batch.
        with Path(journal).open("a") as file:
            file.write(f"{event.id} {event.position}\n")
        crash_after = int(os.environ.get("LEDGER_CRASH_AFTER", "0"))
        if crash_after and len(RECEIVED) >= crash_after:
            os._exit(9)


def entry(account: str = "acct-1", amount: int = 1) -> EntryAdded:
    return EntryAdded(account=account, amount=amount)


def new_account() -> str:
    return f"acct-{uuid.uuid4().hex[:8]}"
