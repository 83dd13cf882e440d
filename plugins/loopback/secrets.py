"""The tenant's loopback signing secret in the vault (:data:`SECRETS`): generated on first
use, read per use. There is no credential to check: the platform makes the secret itself."""

from __future__ import annotations

import asyncio
import secrets
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError, OperationalError

from kernel import SecretSpec, tenant_scope
from plugins.calls import ProviderContext

if TYPE_CHECKING:
    from plugins.loopback.carrier.state import LoopbackState

SIGNING_SECRET = SecretSpec(
    "loopback.signing",
    "Signing secret of the loopback carrier's webhooks (one per tenant; generated on the "
    "tenant's first loopback call).",
    kind="signing_key",
    managed=True,
)
SECRET_NAME = SIGNING_SECRET.instance("default")
"""The tenant's one signing secret."""
SECRETS = [SIGNING_SECRET]


def new_secret() -> str:
    return secrets.token_urlsafe(32)


async def read_secret(context: ProviderContext, *, purpose: str) -> str | None:
    """The tenant's secret, or None before its first loopback call (each read is audited)."""
    value = await context.secret(SECRET_NAME, purpose=purpose)
    return None if value is None else value.reveal()


async def signing_secret(context: ProviderContext, state: LoopbackState) -> str:
    """The tenant's secret, created if it has none. The carrier holds it for the length of
    one call, as a real carrier holds the account's key; the platform reads it per webhook."""
    purpose = "sign the loopback carrier's webhooks"
    existing = await read_secret(context, purpose=purpose)
    if existing is not None:
        return existing
    async with state.secret_lock(context.tenant_id):
        existing = await read_secret(context, purpose=purpose)
        if existing is not None:  # made while this call waited for the lock
            return existing
        value = new_secret()
        try:
            await _store(context, value)
        except IntegrityError:  # another worker stored one first: use theirs
            existing = await read_secret(context, purpose=purpose)
            if existing is None:
                raise
            return existing
        return value


STORE_ATTEMPTS = 3


async def _store(context: ProviderContext, value: str) -> None:
    """Seal the new secret. On SQLite a write that began as a read fails at once when another
    connection wrote meanwhile ("database is locked"); it is tried again a few times."""
    platform = context.platform
    for attempt in range(1, STORE_ATTEMPTS + 1):
        try:
            with tenant_scope(context.tenant_id):
                async with platform.database.session() as session:
                    await platform.vault.store(session, SECRET_NAME, value, plugin=context.plugin)
                    await session.commit()
            return
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == STORE_ATTEMPTS:
                raise
            await asyncio.sleep(0.05 * attempt)
