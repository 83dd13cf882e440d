"""``kraliki calls ...``: call housekeeping from a server's shell."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import click
from sqlalchemy import select

from kernel import Platform, Tenant, open_platform, tenant_scope


@click.group()
def calls() -> None:
    """Calls housekeeping: recording retention, re-processing kept provider webhooks."""


TENANT_OPTION = click.option(
    "--tenant", "slug", default=None, help="One organization (its slug); default all."
)


def _for_each_tenant(slug: str | None, action: Callable[[Platform], Awaitable[str]]) -> None:
    """Run ``action`` in each organization's scope (or the one named), printing its result."""

    async def main() -> None:
        async with open_platform() as platform:
            async with platform.database.session() as session:
                query = select(Tenant.id, Tenant.slug).order_by(Tenant.created_at)
                if slug is not None:
                    query = query.where(Tenant.slug == slug)
                tenants = list(await session.execute(query))
            if slug is not None and not tenants:
                raise click.ClickException(f"no tenant {slug!r}")
            for tenant_id, tenant_slug in tenants:
                with tenant_scope(tenant_id):
                    click.echo(f"{tenant_slug}: {await action(platform)}")

    asyncio.run(main())


@calls.command()
@TENANT_OPTION
def retention(slug: str | None) -> None:
    """Apply recording and webhook retention now (the daily job does the same)."""
    from plugins.calls.recordings import apply_retention

    async def run(platform: Platform) -> str:
        await apply_retention(platform)
        return "retention applied"

    _for_each_tenant(slug, run)


@calls.command()
@TENANT_OPTION
def reprocess(slug: str | None) -> None:
    """Apply kept provider webhooks that named a call the platform did not know yet."""
    from plugins.calls.ingest import reprocess as reprocess_receipts

    async def run(platform: Platform) -> str:
        done, left = await reprocess_receipts(platform)
        return f"{done} webhooks applied, {left} still about unknown calls"

    _for_each_tenant(slug, run)
