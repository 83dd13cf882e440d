"""The tenants table: unique slugs and a constrained status, on every database."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kernel import Tenant, TenantStatus


async def test_tenant_defaults_and_unique_slug(kraliki_platform):
    async with kraliki_platform.database.session() as session:
        session.add(Tenant(slug="acme", name="ACME Corp"))
        await session.commit()
        tenant = await session.scalar(select(Tenant).where(Tenant.slug == "acme"))
        assert tenant is not None
        assert tenant.status == TenantStatus.ACTIVE
        assert tenant.created_at.tzinfo is not None

        session.add(Tenant(slug="acme", name="Impostor"))
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_status_is_constrained_in_the_database(kraliki_platform):
    async with kraliki_platform.database.session() as session:
        session.add(Tenant(slug="odd", name="Odd", status="deleted"))
        with pytest.raises(IntegrityError):
            await session.commit()
