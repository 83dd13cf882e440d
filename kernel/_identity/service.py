"""Per-platform identity state: the token signer, the policy cache and the limiters."""

from __future__ import annotations

import asyncio
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kernel._db import Database
from kernel._identity.models import PlatformSecret
from kernel._identity.permissions import PROFILE_READ
from kernel._identity.rbac import PolicyCache
from kernel._identity.throttle import FailureThrottle, RateLimiter
from kernel._identity.tokens import TokenSigner
from kernel._registry import UniqueRegistry
from kernel._settings import Settings
from kernel._types import Permission

SIGNING_KEY_NAME = "access_token_signing_key"


class Identity:
    """Built once per platform (``Platform.identity``); shared by every request."""

    def __init__(
        self, settings: Settings, database: Database, permissions: UniqueRegistry[Permission]
    ) -> None:
        self.settings = settings
        self.database = database
        self.permissions = permissions
        self.policies = PolicyCache(permissions, settings.rbac_cache_tenants)
        # Operators hold every platform permission, and may see their own profile.
        self.operator_permissions = frozenset(
            key for key, _, permission in permissions.items() if permission.scope == "platform"
        ) | {PROFILE_READ.key}
        window = float(settings.login_failure_window_seconds)
        self.account_failures = FailureThrottle(settings.login_max_failures_per_account, window)
        self.address_failures = FailureThrottle(settings.login_max_failures_per_address, window)
        self.tenant_rate = RateLimiter(settings.rate_limit_tenant_per_minute)
        self.api_key_rate = RateLimiter(settings.rate_limit_api_key_per_minute)
        self._signer: TokenSigner | None = None
        self._signer_lock = asyncio.Lock()

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
        # Generated once and shared through the database, so every worker verifies the
        # tokens any other issued (set KRALIKI_JWT_SECRET to keep it out of the database).
        async with self.database.session() as session:
            stored = await session.get(PlatformSecret, SIGNING_KEY_NAME)
            if stored is not None:
                return stored.value
            session.add(PlatformSecret(name=SIGNING_KEY_NAME, value=secrets.token_urlsafe(48)))
            try:
                await session.commit()
            except IntegrityError:
                await session.rollback()  # another worker created it first
            value = await session.scalar(
                select(PlatformSecret.value).where(PlatformSecret.name == SIGNING_KEY_NAME)
            )
            assert value is not None
            return value
