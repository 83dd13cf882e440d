"""The tenant's loopback signing secret in the vault: generated on first use, read per use."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from kernel import tenant_scope
from plugins.calls.provider import ProviderContext
from plugins.loopback.signing import SECRET_NAME, new_secret
from plugins.loopback.state import LoopbackState


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
        platform = context.platform
        try:
            with tenant_scope(context.tenant_id):
                async with platform.database.session() as session:
                    await platform.vault.store(session, SECRET_NAME, value, plugin=context.plugin)
                    await session.commit()
        except IntegrityError:  # another worker stored one first: use theirs
            existing = await read_secret(context, purpose=purpose)
            if existing is None:
                raise
            return existing
        return value
