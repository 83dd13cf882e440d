"""The vault's access log as a test reads it: which secrets were decrypted, for which plugin
and why (re-exported by :mod:`kernel.testing`, so a plugin's tests can prove that a secret is
read per use and audited without importing the vault's models)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from kernel._platform import Platform
from kernel._tenancy import tenant_scope
from kernel._vault.models import VaultAccessEvent


@dataclass(frozen=True, slots=True)
class VaultAccess:
    """One decryption of a secret, as the access log keeps it."""

    secret_name: str
    plugin: str
    purpose: str
    outcome: str


async def vault_access_events(platform: Platform, tenant_id: uuid.UUID) -> list[VaultAccess]:
    """The tenant's vault accesses, oldest first."""
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            statement = select(VaultAccessEvent).order_by(
                VaultAccessEvent.occurred_at, VaultAccessEvent.id
            )
            rows = (await session.scalars(statement)).all()
    return [VaultAccess(r.secret_name, r.plugin, r.purpose, r.outcome) for r in rows]
