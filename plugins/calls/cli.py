"""``kraliki calls ...``: call housekeeping from a server's shell."""

from __future__ import annotations

import asyncio

import click
from sqlalchemy import select

from kernel import Platform, Tenant, open_platform, tenant_scope


@click.group()
def calls() -> None:
    """Calls housekeeping (recording retention)."""


@calls.command()
@click.option("--tenant", "slug", default=None, help="One organization (its slug); default all.")
def retention(slug: str | None) -> None:
    """Apply recording and webhook retention now (the daily job does the same)."""
    from plugins.calls.recordings import apply_retention

    async def run(platform: Platform) -> int:
        async with platform.database.session() as session:
            query = select(Tenant.id, Tenant.slug).order_by(Tenant.created_at)
            if slug is not None:
                query = query.where(Tenant.slug == slug)
            tenants = list(await session.execute(query))
        if slug is not None and not tenants:
            raise click.ClickException(f"no tenant {slug!r}")
        for tenant_id, tenant_slug in tenants:
            with tenant_scope(tenant_id):
                await apply_retention(platform)
            click.echo(f"{tenant_slug}: retention applied")
        return len(tenants)

    async def main() -> int:
        async with open_platform() as platform:
            return await run(platform)

    asyncio.run(main())
