"""What plugin tests read or set up on a platform, so they need no private kernel import.

Re-exported by :mod:`kernel.testing`; each helper answers one question a test asks (what did
this change publish, audit, schedule) in plain values rather than the kernel's ORM rows, which
stay private and free to change.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner, Result
from sqlalchemy import select

from kernel import _outbound, _passwords
from kernel._events.bus import delivered
from kernel._events.models import EventRecord
from kernel._events.types import DeliveredEvent
from kernel._identity.models import AuditEvent, OperatorAuditEvent
from kernel._jobs.models import Wakeup
from kernel._operators import PlatformOperator
from kernel._platform import Platform
from kernel._tenancy import tenant_scope


@dataclass(frozen=True)
class OutboxEvent:
    """An event as the outbox holds it: ``position`` is None until it is dispatched."""

    id: uuid.UUID
    name: str
    version: int
    aggregate: str
    payload: dict[str, Any]
    occurred_at: datetime
    position: int | None
    _delivered: DeliveredEvent | None

    def delivered(self) -> DeliveredEvent:
        """The event as consumers receive it (``kraliki_event``, webhooks); dispatched only."""
        if self._delivered is None:
            raise AssertionError(f"event {self.name} ({self.id}) is not dispatched yet")
        return self._delivered


async def outbox_events(platform: Platform, tenant_id: uuid.UUID) -> list[OutboxEvent]:
    """The tenant's events in the outbox, dispatched or not, in publication order."""
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            rows = await session.scalars(select(EventRecord).order_by(EventRecord.seq))
            return [
                OutboxEvent(
                    id=row.id,
                    name=row.name,
                    version=row.version,
                    aggregate=row.aggregate,
                    payload=dict(row.payload),
                    occurred_at=row.occurred_at,
                    position=row.position,
                    _delivered=delivered(row) if row.position is not None else None,
                )
                for row in rows
            ]


@dataclass(frozen=True)
class AuditEntry:
    """One audit log entry (a tenant's log, or the operators' log)."""

    action: str
    outcome: str
    actor_kind: str
    actor_id: str | None
    actor_label: str | None
    target_type: str | None
    target_id: str | None
    tenant_id: uuid.UUID | None
    details: dict[str, Any]
    occurred_at: datetime


def _entry(
    row: AuditEvent | OperatorAuditEvent,
    actor_kind: str,
    actor_id: str | None,
    actor_label: str | None,
) -> AuditEntry:
    """One row of either log as an entry (the two logs name their actor differently)."""
    return AuditEntry(
        action=row.action,
        outcome=row.outcome,
        actor_kind=actor_kind,
        actor_id=actor_id,
        actor_label=actor_label,
        target_type=row.target_type,
        target_id=row.target_id,
        tenant_id=row.tenant_id,
        details=dict(row.details),
        occurred_at=row.occurred_at,
    )


async def audit_events(
    platform: Platform, tenant_id: uuid.UUID, action: str | None = None
) -> list[AuditEntry]:
    """The tenant's audit log, oldest first (only ``action`` entries when given)."""
    query = select(AuditEvent).order_by(AuditEvent.occurred_at, AuditEvent.id)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            return [
                _entry(row, row.actor_kind, row.actor_id, row.actor_label)
                for row in await session.scalars(query)
            ]


async def operator_audit_events(platform: Platform, action: str | None = None) -> list[AuditEntry]:
    """The platform operators' audit log, oldest first (only ``action`` entries when given);
    ``actor_id`` is the operator's id (``"cli"`` for the command line)."""
    query = select(OperatorAuditEvent).order_by(
        OperatorAuditEvent.occurred_at, OperatorAuditEvent.id
    )
    if action is not None:
        query = query.where(OperatorAuditEvent.action == action)
    async with platform.database.session() as session:
        return [
            _entry(row, "operator", row.operator_id, row.operator_label)
            for row in await session.scalars(query)
        ]


async def job_due_at(platform: Platform, topic: str, tenant_id: uuid.UUID) -> datetime | None:
    """When the tenant's ``topic`` job is next due to run (None when it is not scheduled)."""
    async with platform.database.session() as session:
        return await session.scalar(
            select(Wakeup.due_at).where(Wakeup.topic == topic, Wakeup.tenant_id == tenant_id)
        )


async def add_operator(platform: Platform, email: str, password: str) -> uuid.UUID:
    """Create a platform operator account (log in with :func:`kernel.testing.login`)."""
    operator = PlatformOperator(email=email, password_hash=_passwords.hash_password(password))
    async with platform.database.session() as session:
        session.add(operator)
        await session.commit()
        return operator.id


def run_cli(*args: str, input: str | None = None, catch_exceptions: bool = True) -> Result:
    """Run ``kraliki <args>`` in this process as an operator at a shell would (settings from
    the environment: point ``KRALIKI_DATABASE_URL`` at the test's database first)."""
    from kernel._cli import build_cli

    return CliRunner().invoke(
        build_cli(), list(args), input=input, catch_exceptions=catch_exceptions
    )


def use_cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id at its minimum cost for this test (about 2 ms a hash instead of 120 ms):
    still real Argon2id hashes checked by the real verifier; only the work factor drops."""
    monkeypatch.setattr(
        _passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


def use_dns_answers(monkeypatch: pytest.MonkeyPatch, answers: Mapping[str, str]) -> None:
    """Make :func:`kernel.check_outbound_url` resolve host names from ``answers`` (name ->
    address) for this test, read at every lookup so that a test can change one between two
    checks (DNS rebinding); IP literals resolve to themselves, other names do not resolve."""

    async def resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        try:
            return [ipaddress.ip_address(answers.get(host, host))]
        except ValueError:
            raise _outbound.UrlRefusedError(
                "unresolvable", "the URL's host name does not resolve"
            ) from None

    monkeypatch.setattr(_outbound, "_resolve", resolve)


def assert_public_imports(package: str, *, allow: Sequence[str] = ()) -> None:
    """Fail when ``package`` (an importable plugin package) imports the kernel's or another
    plugin's internals: the contract the built-in plugins are held to (ADR 0023).

    ``allow`` lists importing modules (or their packages) to leave out, for a deliberate
    white-box module of your own.
    """
    from kernel._import_contract import package_violations  # grimp: only when asked

    found = [
        violation
        for violation in package_violations(package)
        if not any(
            violation.importer == name or violation.importer.startswith(name + ".")
            for name in allow
        )
    ]
    if found:
        lines = "\n".join(f"  {violation}" for violation in found)
        raise AssertionError(f"{package} imports private modules:\n{lines}")
