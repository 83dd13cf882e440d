"""The vault: put, list, delete and reveal tenants' secrets under envelope encryption."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kernel._db import Database
from kernel._errors import PluginConflictError
from kernel._hooks import Hooks
from kernel._metrics import Metrics
from kernel._models import utcnow
from kernel._observability.tracing import current_trace_ids
from kernel._principal import Principal
from kernel._registry import UniqueRegistry
from kernel._settings import Settings
from kernel._tenancy import Tenant, TenantStatus, current_tenant_id, tenant_scope
from kernel._vault.cache import DataKeyCache
from kernel._vault.crypto import (
    VaultCryptoError,
    data_key_aad,
    decrypt_secret,
    encrypt_secret,
    new_data_key,
)
from kernel._vault.declarations import INSTANCE_KEY, SecretSpec
from kernel._vault.keys import (
    KeyProvider,
    KeyProviderError,
    LocalKeyProvider,
    WrappedKey,
    load_key_file,
)
from kernel._vault.models import (
    ACTIVE,
    PRIMARY,
    RETIRED,
    VaultAccessEvent,
    VaultDataKey,
    VaultSecret,
)
from kernel._vault.secret_cache import SecretCache, Stamp
from kernel._vault.values import SecretValue

logger = logging.getLogger("kraliki.vault")


class VaultError(Exception):
    """A vault operation that cannot be done (the message never holds a secret)."""


class UnknownSecretError(VaultError):
    """No loaded plugin declares a secret of that name."""


class ManagedSecretError(VaultError):
    """Tenants cannot put or delete a secret a plugin manages itself."""


class SecretAccessError(VaultError):
    """A plugin asked for a secret it neither owns nor requires the owner of."""


class SecretUnavailableError(VaultError):
    """A stored secret did not decrypt (key provider down or missing the KEK, data key
    retired, ciphertext altered). Escaping a route, it answers 503 ``vault-unavailable``."""


CACHE_FILL = "secret-cache"
"""The access log's ``job`` for a decryption that filled a worker's secret cache: the uses
served from that value until it expires are not logged one by one (docs/adr/0034)."""


def fingerprint(value: str) -> str:
    """First 12 hex digits of the value's SHA-256: lets an admin check which key is stored
    (``printf %s "$KEY" | sha256sum | cut -c1-12``) without the vault ever showing it."""
    return hashlib.sha256(value.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who caused a decryption: a principal (a request) or a named job."""

    kind: str | None = None
    id: str | None = None
    job: str | None = None

    @classmethod
    def of(cls, principal: Principal | None, job: str | None) -> Actor:
        if principal is not None:
            return cls(principal.kind, principal.subject, job)
        return cls(job=job or "unknown")


class Vault:
    """One per platform (``platform.vault``). Tenant operations act for the tenant in scope."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        hooks: Hooks,
        metrics: Metrics,
        requirements: dict[str, set[str]],
    ) -> None:
        self.settings = settings
        self.database = database
        self.hooks = hooks
        self.metrics = metrics
        self._requirements = requirements
        self.specs = UniqueRegistry[SecretSpec]("vault secret")
        for plugin, specs in hooks.collect_now("kraliki_vault_secrets"):
            for spec in specs:
                if spec.owner != plugin:
                    raise VaultError(
                        f"plugin {plugin!r} declares vault secret {spec.name!r}: secret names "
                        f"must start with the plugin's name ('{plugin}.')"
                    )
                self.specs.register(spec.name, spec, plugin=plugin)
        self._provider: KeyProvider | None = None
        self._provider_lock = asyncio.Lock()
        self.data_keys = DataKeyCache(
            settings.vault_data_key_cache_size, settings.vault_data_key_cache_seconds
        )
        self.secrets = SecretCache(
            settings.vault_secret_cache_size, settings.vault_secret_cache_seconds
        )
        """Decrypted secrets :meth:`reveal_cached` serves (docs/adr/0034)."""

    # -- key provider -------------------------------------------------------------------

    async def provider(self) -> KeyProvider:
        """The KEK holder: a plugin's (``kraliki_vault_key_provider``) or the local one."""
        if self._provider is not None:
            return self._provider
        async with self._provider_lock:
            if self._provider is None:
                self._provider = await asyncio.to_thread(self._make_provider)
        return self._provider

    def _make_provider(self) -> KeyProvider:
        offered = self.hooks.collect_now("kraliki_vault_key_provider", settings=self.settings)
        if len(offered) > 1:
            raise PluginConflictError(
                "vault key provider", "kraliki_vault_key_provider", offered[0][0], offered[1][0]
            )
        if offered:
            plugin, provider = offered[0]
            if not isinstance(provider, KeyProvider):
                raise VaultError(f"plugin {plugin!r} returned {provider!r}, not a KeyProvider")
            logger.info("vault key provider %r from plugin %r", provider.name, plugin)
            return provider
        if self.settings.master_key is not None:
            return LocalKeyProvider.from_text(self.settings.master_key.get_secret_value())
        return LocalKeyProvider.from_text(load_key_file(self.settings.master_key_file, create=True))

    async def _unwrap(self, key: VaultDataKey) -> bytes:
        cached = self.data_keys.get(key.id)
        if cached is not None:
            return cached
        provider = await self.provider()
        plain = await provider.unwrap(
            WrappedKey(key.kek_id, key.wrapped_key), data_key_aad(key.tenant_id, key.version)
        )
        self.data_keys.put(key.id, plain)
        return plain

    # -- the platform's own secrets (no tenant: sealed by the KEK directly) --------------

    async def seal_platform_secret(self, name: str, value: str) -> tuple[str, str]:
        """(kek id, base64 blob) for a platform secret such as the token signing key."""
        wrapped = await (await self.provider()).wrap(value.encode(), _platform_context(name))
        return wrapped.kek_id, base64.b64encode(wrapped.blob).decode()

    async def open_platform_secret(self, name: str, kek_id: str, sealed: str) -> str:
        provider = await self.provider()
        blob = base64.b64decode(sealed)
        return (await provider.unwrap(WrappedKey(kek_id, blob), _platform_context(name))).decode()

    # -- data keys ----------------------------------------------------------------------

    async def _new_data_key(self, session: AsyncSession, tenant_id: uuid.UUID) -> VaultDataKey:
        latest = await session.scalar(select(func.max(VaultDataKey.version)))
        version = (latest or 0) + 1
        plain = new_data_key()
        wrapped = await (await self.provider()).wrap(plain, data_key_aad(tenant_id, version))
        key = VaultDataKey(
            id=uuid.uuid4(),
            version=version,
            status=PRIMARY,
            kek_id=wrapped.kek_id,
            wrapped_key=wrapped.blob,
        )
        session.add(key)
        await session.flush()
        self.data_keys.put(key.id, plain)
        return key

    async def primary_key(self, session: AsyncSession) -> VaultDataKey:
        """The tenant's primary data key, created on first use."""
        tenant_id = _tenant()
        key = await session.scalar(select(VaultDataKey).where(VaultDataKey.status == PRIMARY))
        if key is not None:
            return key
        try:
            async with session.begin_nested():
                return await self._new_data_key(session, tenant_id)
        except IntegrityError:  # another request created it first
            key = await session.scalar(select(VaultDataKey).where(VaultDataKey.status == PRIMARY))
            if key is None:
                raise
            return key

    async def data_keys_of_tenant(self, session: AsyncSession) -> Sequence[VaultDataKey]:
        return (await session.scalars(select(VaultDataKey).order_by(VaultDataKey.version))).all()

    # -- secrets ------------------------------------------------------------------------

    def spec(self, name: str) -> SecretSpec:
        if name in self.specs:
            return self.specs.get(name)
        family, _, key = name.rpartition(".")
        if family in self.specs and self.specs.get(family).managed and INSTANCE_KEY.match(key):
            return self.specs.get(family)
        raise UnknownSecretError(f"no loaded plugin declares a secret named {name!r}")

    async def store(
        self, session: AsyncSession, name: str, value: str, *, plugin: str
    ) -> VaultSecret:
        """Seal a value a plugin generated (a managed secret, see ``SecretSpec.managed``)
        in the caller's transaction; replaces an earlier one of that name."""
        spec = self.check_access(plugin, name)
        if not spec.managed or name == spec.name:
            raise SecretAccessError(f"{name!r} is not an instance of a managed secret")
        row, _created = await self._seal(session, spec, name, value, actor=f"plugin:{plugin}")
        return row

    async def forget(self, session: AsyncSession, name: str, *, plugin: str) -> bool:
        """Delete a managed value (the object it belonged to is gone)."""
        self.check_access(plugin, name)
        return await self.delete(session, name)

    async def get(self, session: AsyncSession, name: str) -> VaultSecret | None:
        return await session.scalar(select(VaultSecret).where(VaultSecret.name == name))

    async def list(self, session: AsyncSession) -> Sequence[VaultSecret]:
        return (await session.scalars(select(VaultSecret).order_by(VaultSecret.name))).all()

    async def put(
        self, session: AsyncSession, name: str, value: str, *, actor: str | None
    ) -> tuple[VaultSecret, bool]:
        """Create or replace a secret; (row, created). The caller commits.

        Raises :class:`UnknownSecretError` or :class:`ValueError` (a format problem whose
        message never quotes the value).
        """
        spec = self.spec(name)
        if spec.managed:
            raise ManagedSecretError(f"{name!r} is managed by the {spec.owner} plugin")
        problem = spec.format_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return await self._seal(session, spec, name, value, actor=actor)

    async def _seal(
        self, session: AsyncSession, spec: SecretSpec, name: str, value: str, *, actor: str | None
    ) -> tuple[VaultSecret, bool]:
        tenant_id = _tenant()
        key = await self.primary_key(session)
        plain = await self._unwrap(key)
        row = await self.get(session, name)
        created = row is None
        if row is None:
            row = VaultSecret(
                id=uuid.uuid4(),
                name=name,
                kind=spec.kind,
                plugin=spec.owner,
                version=0,
                created_by=actor,
            )
            session.add(row)
        row.version += 1
        row.data_key_id = key.id
        row.ciphertext = encrypt_secret(plain, key.id, tenant_id, name, row.version, value)
        row.fingerprint = fingerprint(value)
        row.kind = spec.kind
        row.updated_by = actor
        row.updated_at = utcnow()
        row.validation_status = row.validation_detail = None
        row.validated_at = None
        await session.flush()
        self.secrets.drop(tenant_id, name)  # other workers see the new version
        return row, created

    async def delete(self, session: AsyncSession, name: str) -> bool:
        row = await self.get(session, name)
        if row is None:
            return False
        await session.delete(row)
        await session.flush()
        self.secrets.drop(_tenant(), name)  # other workers find no row
        return True

    def check_access(self, plugin: str, name: str) -> SecretSpec:
        """A plugin reads its own secrets and those of the plugins it requires."""
        spec = self.spec(name)
        if plugin != spec.owner and spec.owner not in self._requirements.get(plugin, set()):
            raise SecretAccessError(
                f"plugin {plugin!r} may not read {name!r}: it belongs to {spec.owner!r}, which "
                f"{plugin!r} does not require"
            )
        return spec

    async def reveal(
        self,
        name: str,
        *,
        plugin: str,
        purpose: str,
        principal: Principal | None = None,
        job: str | None = None,
        tenant_id: uuid.UUID | None = None,
    ) -> SecretValue | None:
        """Decrypt a secret for immediate use, or None when the tenant has not stored it.

        Runs in its own short transaction that records the access (plugin, purpose, actor or
        job, trace id) before the value is returned, so no decryption goes unaudited even if
        the caller's work fails. Call it before your own writes in the same request (on
        SQLite, one writer at a time). Do not keep the value: ask again next time.
        """
        self.check_access(plugin, name)
        revealed = await self._reveal(
            name, plugin, purpose, Actor.of(principal, job), tenant_id or _tenant()
        )
        return None if revealed is None else SecretValue(revealed[1])

    async def reveal_cached(
        self, session: AsyncSession, name: str, *, plugin: str, purpose: str
    ) -> SecretValue | None:
        """:meth:`reveal` for a hot path (a provider's webhook verified per delivery): the
        value may come from this worker's :attr:`secrets` cache (docs/adr/0034).

        ``session`` is the caller's, in the tenant's scope: one small read in it (the
        secret's version and data key, the tenant's status) tells whether a cached value is
        still the stored one; a write, rotation or deletion committed anywhere makes it
        stale at once. A miss reveals as :meth:`reveal` does (its own audited transaction,
        the access log's ``job`` saying ``secret-cache``) and fills the cache; a suspended
        tenant's secrets are revealed per use and never cached.
        """
        self.check_access(plugin, name)
        tenant = _tenant()
        if not self.secrets.enabled:
            return await self.reveal(name, plugin=plugin, purpose=purpose, tenant_id=tenant)
        found = (
            await session.execute(
                select(VaultSecret.version, VaultSecret.data_key_id, Tenant.status)
                .join(Tenant, Tenant.id == VaultSecret.tenant_id)
                .where(VaultSecret.name == name)
            )
        ).first()
        if found is None:
            self.secrets.drop(tenant, name)
            return None
        if found.status != TenantStatus.ACTIVE.value:
            self.secrets.drop(tenant)
            return await self.reveal(name, plugin=plugin, purpose=purpose, tenant_id=tenant)
        cached = self.secrets.get(tenant, name, Stamp(found.version, found.data_key_id))
        if cached is not None:
            self.metrics.vault_secret_cache_hits.labels(name).inc()
            return SecretValue(cached)
        revealed = await self._reveal(name, plugin, purpose, Actor(job=CACHE_FILL), tenant)
        if revealed is None:
            return None
        stamp, value = revealed
        self.secrets.put(tenant, name, stamp, value)
        return SecretValue(value)

    async def _reveal(
        self, name: str, plugin: str, purpose: str, actor: Actor, tenant: uuid.UUID
    ) -> tuple[Stamp, str] | None:
        """Decrypt in a transaction of its own that keeps the audit row; the value and the
        stamp of the row it came from."""
        with tenant_scope(tenant):
            async with self.database.session() as session:
                row = await self.get(session, name)
                if row is None:
                    return None
                stamp = Stamp(row.version, row.data_key_id)
                outcome, value, error = "success", "", None
                try:
                    key = await session.scalar(
                        select(VaultDataKey).where(VaultDataKey.id == row.data_key_id)
                    )
                    if key is None or key.status == RETIRED:
                        raise VaultCryptoError("the secret's data key is retired")
                    plain = await self._unwrap(key)
                    value = decrypt_secret(plain, row.ciphertext, tenant, name, row.version)
                except (VaultCryptoError, KeyProviderError) as exc:
                    outcome, error = "failure", exc
                row.last_used_at = utcnow()
                session.add(
                    VaultAccessEvent(
                        secret_name=name,
                        plugin=plugin,
                        purpose=purpose[:120],
                        actor_kind=actor.kind,
                        actor_id=actor.id,
                        job=actor.job,
                        trace_id=current_trace_ids()[0],
                        outcome=outcome,
                    )
                )
                await session.commit()
        if error is not None:
            logger.error("vault secret %s of tenant %s did not decrypt: %s", name, tenant, error)
            raise SecretUnavailableError(f"secret {name!r} could not be decrypted ({error})")
        self.metrics.vault_decryptions.labels(name).inc()
        return stamp, value

    async def mark_validated(
        self, session: AsyncSession, name: str, status: str, detail: str
    ) -> VaultSecret | None:
        row = await self.get(session, name)
        if row is not None:
            row.validation_status = status
            row.validation_detail = detail[:300]
            row.validated_at = utcnow()
            await session.flush()
        return row

    async def retire_unused_keys(self, session: AsyncSession) -> int:
        """Active data keys no secret uses any more become retired."""
        used = select(VaultSecret.data_key_id).distinct().scalar_subquery()
        result = await session.execute(
            update(VaultDataKey)
            .where(VaultDataKey.status == ACTIVE, VaultDataKey.id.not_in(used))
            .values(status=RETIRED, retired_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)


def _platform_context(name: str) -> bytes:
    return b"kraliki:platform-secret:v1|" + name.encode()


def _tenant() -> uuid.UUID:
    tenant = current_tenant_id()
    if tenant is None:
        raise VaultError("vault operations act for a tenant: enter kernel.tenant_scope(...)")
    return tenant
