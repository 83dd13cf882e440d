"""``kraliki calls ...``: call housekeeping from a server's shell."""

from __future__ import annotations

import asyncio
import getpass
import uuid
from collections.abc import Awaitable, Callable

import click
from sqlalchemy import select

from kernel import Platform, Principal, ProblemError, Tenant, open_platform, tenant_scope


@click.group()
def calls() -> None:
    """Calls housekeeping: recording retention, re-processing kept provider webhooks,
    reconciling and force-ending stuck calls."""


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


@calls.command()
@TENANT_OPTION
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Ask about every unended call, not only those not heard of for a while.",
)
def reconcile(slug: str | None, everything: bool) -> None:
    """Ask the providers where stale unended calls are and settle them now (the
    calls.reconcile job does the same when calls go stale)."""
    from plugins.calls.reconcile import reconcile as reconcile_calls

    async def run(platform: Platform) -> str:
        report, _full = await reconcile_calls(platform, everything=everything)
        return report.summary()

    _for_each_tenant(slug, run)


@calls.command("force-end")
@click.argument("call_id", type=click.UUID)
@click.option("--tenant", "slug", required=True, help="The organization (its slug).")
@click.option("--reason", default=None, help="Why (kept in the timeline and the audit log).")
def force_end(call_id: uuid.UUID, slug: str, reason: str | None) -> None:
    """End a call at once, whatever its provider says, then ask the provider to hang it
    up (recorded in the operator audit log)."""
    from plugins.calls.ending import force_end as end_call

    operator = Principal(subject="cli", kind="operator", label=f"cli ({getpass.getuser()})")

    async def run(platform: Platform) -> str:
        async with platform.database.session() as session:
            try:
                call = await end_call(platform, session, call_id, principal=operator, reason=reason)
            except ProblemError as problem:
                raise click.ClickException(str(problem)) from None
        return f"call {call.id} ended ({call.status}, force-ended)"

    _for_each_tenant(slug, run)
