"""Key rotation, online and resumable.

* Data key (per tenant): a new primary key seals from now on; the old one turns ``active``;
  secrets are re-encrypted in small committed batches; when none is left under the old key it
  turns ``retired``. Interrupted, every secret is under either key, both of which still
  open it; running again resumes (it does not start yet another key).
* KEK (platform): every data key (and platform secret, like the token signing key) not
  wrapped by the provider's current KEK is unwrapped and wrapped again, one commit per key;
  the secrets themselves are not touched. Interrupted,
  running again picks up the keys still wrapped by the old KEK (keep it configured until
  the report says none remain).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select, update

from kernel._identity.models import PlatformSecret
from kernel._models import utcnow
from kernel._tenancy import Tenant, tenant_scope
from kernel._vault.crypto import data_key_aad, decrypt_secret, encrypt_secret
from kernel._vault.keys import WrappedKey
from kernel._vault.models import ACTIVE, PRIMARY, VaultDataKey, VaultSecret
from kernel._vault.service import Vault

BATCH_SIZE = 100


@dataclass
class DataKeyRotation:
    tenant_id: uuid.UUID
    primary_version: int
    resumed: bool
    re_encrypted: int = 0
    retired: int = 0


@dataclass
class KekRotation:
    kek_id: str
    rewrapped: int = 0
    tenants: int = 0
    remaining: int = 0


async def rotate_data_key(
    vault: Vault, tenant_id: uuid.UUID, *, batch_size: int = BATCH_SIZE
) -> DataKeyRotation:
    """Give the tenant a new primary data key and re-encrypt its secrets under it (or finish
    a rotation that was interrupted)."""
    with tenant_scope(tenant_id):
        async with vault.database.session() as session:
            keys = (
                await session.scalars(
                    select(VaultDataKey).order_by(VaultDataKey.version).with_for_update()
                )
            ).all()
            resumed = any(key.status == ACTIVE for key in keys)
            if resumed:
                primary = next(key for key in keys if key.status == PRIMARY)
            else:
                for key in keys:
                    if key.status == PRIMARY:
                        key.status = ACTIVE
                await session.flush()
                primary = await vault._new_data_key(session, tenant_id)
            report = DataKeyRotation(tenant_id, primary.version, resumed)
            await session.commit()
        primary_id = primary.id
        while True:
            async with vault.database.session() as session:
                rows = (
                    await session.scalars(
                        select(VaultSecret)
                        .where(VaultSecret.data_key_id != primary_id)
                        .order_by(VaultSecret.id)
                        .limit(batch_size)
                    )
                ).all()
                if not rows:
                    break
                new_key = await vault._unwrap(primary)
                for row in rows:
                    old = await session.scalar(
                        select(VaultDataKey).where(VaultDataKey.id == row.data_key_id)
                    )
                    assert old is not None
                    value = decrypt_secret(
                        await vault._unwrap(old), row.ciphertext, tenant_id, row.name, row.version
                    )
                    ciphertext = encrypt_secret(
                        new_key, primary_id, tenant_id, row.name, row.version, value
                    )
                    # Only if nobody replaced the secret meanwhile (their write wins).
                    result = await session.execute(
                        update(VaultSecret)
                        .where(
                            VaultSecret.id == row.id,
                            VaultSecret.version == row.version,
                            VaultSecret.data_key_id == old.id,
                        )
                        .values(data_key_id=primary_id, ciphertext=ciphertext)
                        .execution_options(synchronize_session=False)
                    )
                    report.re_encrypted += int(getattr(result, "rowcount", 0) or 0)
                await session.commit()
        async with vault.database.session() as session:
            report.retired = await vault.retire_unused_keys(session)
            await session.commit()
    vault.secrets.drop(tenant_id)  # other workers see the secrets' new data key
    return report


async def _rewrap_platform_secrets(vault: Vault, current: str) -> int:
    """The platform's own secrets (token signing key) move to the current KEK too."""
    done = 0
    async with vault.database.session() as session:
        names = (
            await session.scalars(
                select(PlatformSecret.name).where(
                    (PlatformSecret.kek_id != current) | PlatformSecret.kek_id.is_(None)
                )
            )
        ).all()
    for name in names:
        async with vault.database.session() as session:
            row = await session.get(PlatformSecret, name, with_for_update=True)
            if row is None or row.kek_id == current:
                continue
            value = (
                row.value
                if row.kek_id is None
                else await vault.open_platform_secret(name, row.kek_id, row.value)
            )
            row.kek_id, row.value = await vault.seal_platform_secret(name, value)
            await session.commit()
            done += 1
    return done


async def rotate_kek(vault: Vault) -> KekRotation:
    """Re-wrap every tenant's data keys with the key provider's current KEK."""
    provider = await vault.provider()
    current = await provider.current_kek_id()
    report = KekRotation(current)
    report.rewrapped += await _rewrap_platform_secrets(vault, current)
    async with vault.database.session() as session:
        tenant_ids = (await session.scalars(select(Tenant.id).order_by(Tenant.id))).all()
    for tenant_id in tenant_ids:
        with tenant_scope(tenant_id):
            async with vault.database.session() as session:
                stale = (
                    await session.scalars(
                        select(VaultDataKey.id).where(VaultDataKey.kek_id != current)
                    )
                ).all()
            if stale:
                report.tenants += 1
            for key_id in stale:
                async with vault.database.session() as session:
                    key = await session.scalar(
                        select(VaultDataKey)
                        .where(VaultDataKey.id == key_id, VaultDataKey.kek_id != current)
                        .with_for_update()
                    )
                    if key is None:
                        continue  # re-wrapped meanwhile by a concurrent run
                    context = data_key_aad(tenant_id, key.version)
                    plain = await provider.unwrap(WrappedKey(key.kek_id, key.wrapped_key), context)
                    wrapped = await provider.wrap(plain, context)
                    key.kek_id, key.wrapped_key = wrapped.kek_id, wrapped.blob
                    key.rewrapped_at = utcnow()
                    await session.commit()
                    report.rewrapped += 1
            async with vault.database.session() as session:
                report.remaining += int(
                    await session.scalar(
                        select(func.count())
                        .select_from(VaultDataKey)
                        .where(VaultDataKey.kek_id != current)
                    )
                    or 0
                )
    return report
