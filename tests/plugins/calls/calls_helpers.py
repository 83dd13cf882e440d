"""Shared by the calls tests (imported by name: test directories are not packages)."""

from __future__ import annotations

import uuid

from kernel import tenant_scope
from kernel.testing import create_tenant
from plugins.calls.permissions import PERMISSIONS

ALL = tuple(p.key for p in PERMISSIONS)
SECRET = "fakeline-signing-secret"


async def provision(platform, slug: str, secret: str = SECRET) -> uuid.UUID:
    """A tenant whose primary provider is fakeline, with its signing secret stored."""
    from plugins.calls.models import CallSettingsRow

    tenant_id = await create_tenant(platform, slug)
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            await platform.vault.put(session, "fakeline.signing_key", secret, actor="test")
            session.add(CallSettingsRow(primary_provider="fakeline", max_concurrent_calls=10))
            await session.commit()
    return tenant_id
