"""Per-platform identity state: the token signer, the policy cache and the limiters."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import uuid

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from kernel._db import Database
from kernel._identity.models import ApiKey, PlatformSecret
from kernel._identity.permissions import PROFILE_READ
from kernel._identity.rbac import PolicyCache
from kernel._identity.throttle import FailureThrottle, RateLimiter
from kernel._identity.tokens import TokenSigner
from kernel._models import utcnow
from kernel._registry import UniqueRegistry
from kernel._settings import Settings
from kernel._shared.limits import AsyncAttemptThrottle, SharedRateLimiter
from kernel._shared.store import SharedStore
from kernel._tenancy import tenant_scope
from kernel._types import Permission
from kernel._vault.service import Vault

SIGNING_KEY_NAME = "access_token_signing_key"
KEY_TOUCH_INTERVAL = 60.0
logger = logging.getLogger("kraliki.identity")


class Identity:
    """Built once per platform (``Platform.identity``); shared by every request."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        permissions: UniqueRegistry[Permission],
        vault: Vault,
        shared: SharedStore | None = None,
    ) -> None:
        self.settings = settings
        self.vault = vault
        self.database = database
        self.permissions = permissions
        self.policies = PolicyCache(permissions, settings.rbac_cache_tenants)
        # Operators hold every platform permission, and may see their own profile.
        self.operator_permissions = frozenset(
            key for key, _, permission in permissions.items() if permission.scope == "platform"
        ) | {PROFILE_READ.key}
        window = float(settings.login_failure_window_seconds)
        # Shared through Redis when KRALIKI_REDIS_URL is set (ADR 0032), else per worker.
        self.account_failures = AsyncAttemptThrottle(
            FailureThrottle(settings.login_max_failures_per_account, window),
            shared,
            "login-account",
        )
        self.address_failures = AsyncAttemptThrottle(
            FailureThrottle(settings.login_max_failures_per_address, window),
            shared,
            "login-address",
        )
        self.tenant_rate = SharedRateLimiter(
            RateLimiter(settings.rate_limit_tenant_per_minute), shared, "tenant"
        )
        self.api_key_rate = SharedRateLimiter(
            RateLimiter(settings.rate_limit_api_key_per_minute), shared, "api-key"
        )
        self._signer: TokenSigner | None = None
        self._signer_lock = asyncio.Lock()
        self._key_touched: dict[uuid.UUID, float] = {}
        self._background: set[asyncio.Task[None]] = set()

    def note_api_key_use(self, tenant_id: uuid.UUID, key_id: uuid.UUID) -> None:
        """Record that a key was used: at most one write per key per minute per worker, in
        the background after the request (never holding a second connection during it)."""
        now = time.monotonic()
        if now - self._key_touched.get(key_id, -KEY_TOUCH_INTERVAL) < KEY_TOUCH_INTERVAL:
            return
        self._key_touched[key_id] = now
        if len(self._key_touched) > 100_000:
            self._key_touched = {
                k: t for k, t in self._key_touched.items() if now - t < KEY_TOUCH_INTERVAL
            }
        task = asyncio.get_running_loop().create_task(self._touch_api_key(tenant_id, key_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _touch_api_key(self, tenant_id: uuid.UUID, key_id: uuid.UUID) -> None:
        try:
            with tenant_scope(tenant_id):
                async with self.database.session() as session:
                    await session.execute(
                        update(ApiKey)
                        .where(ApiKey.id == key_id)
                        .values(last_used_at=utcnow())
                        .execution_options(synchronize_session=False)
                    )
                    await session.commit()
        except Exception:  # bookkeeping only: never worth failing anything for
            logger.warning("could not record the last use of API key %s", key_id, exc_info=True)

    async def drain(self) -> None:
        """Wait for background bookkeeping (tests, shutdown)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def signer(self) -> TokenSigner:
        if self._signer is None:
            async with self._signer_lock:
                if self._signer is None:
                    self._signer = TokenSigner(
                        await self._signing_key(), self.settings.access_token_ttl_seconds
                    )
        return self._signer

    async def _signing_key(self) -> str:
        configured = self.settings.jwt_secret
        if configured is not None:
            return configured.get_secret_value()
        # Generated once and shared through the database (sealed by the vault's KEK), so
        # every worker verifies the tokens any other issued.
        async with self.database.session() as session:
            stored = await session.get(PlatformSecret, SIGNING_KEY_NAME)
            if stored is None:
                kek_id, sealed = await self.vault.seal_platform_secret(
                    SIGNING_KEY_NAME, secrets.token_urlsafe(48)
                )
                session.add(PlatformSecret(name=SIGNING_KEY_NAME, value=sealed, kek_id=kek_id))
                try:
                    await session.commit()
                except IntegrityError:
                    await session.rollback()  # another worker created it first
                stored = await session.get(PlatformSecret, SIGNING_KEY_NAME, populate_existing=True)
                assert stored is not None
            if stored.kek_id is None:  # written in clear before the vault existed: seal it
                value = stored.value
                stored.kek_id, stored.value = await self.vault.seal_platform_secret(
                    SIGNING_KEY_NAME, value
                )
                await session.commit()
                return value
            return await self.vault.open_platform_secret(
                SIGNING_KEY_NAME, stored.kek_id, stored.value
            )
