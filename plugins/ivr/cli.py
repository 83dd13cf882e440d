"""``kraliki ivr``: run flows' saved tests from a terminal or a CI job."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import click
from sqlalchemy import select

from kernel import Platform, Tenant, open_platform, tenant_scope
from plugins.ivr import service
from plugins.ivr.models import Flow


@click.group()
def ivr() -> None:
    """IVR flows: run their saved tests."""


@ivr.command("test")
@click.option("--tenant", "tenant", required=True, help="The organization: its slug or id.")
@click.option("--flow", "flow_id", type=click.UUID, help="One flow (default: every flow).")
@click.option(
    "--version",
    "ref",
    default="draft",
    show_default=True,
    help="draft, current (what calls run now) or a version number.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
def test(tenant: str, flow_id: uuid.UUID | None, ref: str, as_json: bool) -> None:
    """Run flows' saved tests in the simulator; exit 1 when one fails."""
    version: Any = int(ref) if ref.isdigit() else ref
    if version not in ("draft", "current") and not isinstance(version, int):
        raise click.BadParameter("draft, current or a version number", param_hint="--version")
    reports = asyncio.run(_run(tenant, flow_id, version))
    failed = 0
    if as_json:
        click.echo(json.dumps(reports, indent=2, default=str))
    for name, report in reports.items():
        failed += report["failed"]
        if as_json:
            continue
        cover = report["coverage"]
        click.echo(
            f"{name} ({report['version']}): {report['passed']} passed, {report['failed']} failed;"
            f" nodes {cover['nodes']['percent']}%, branches {cover['branches']['percent']}%"
        )
        for result in report["results"]:
            mark = "ok  " if result["passed"] else "FAIL"
            click.echo(f"  {mark} {result['name']}")
            for failure in result["failures"]:
                click.echo(f"       {failure}")
    if failed:
        raise SystemExit(1)


async def _tenant_id(platform: Platform, tenant: str) -> uuid.UUID:
    try:
        wanted = Tenant.id == uuid.UUID(tenant)
    except ValueError:
        wanted = Tenant.slug == tenant
    async with platform.database.session() as session:
        found = await session.scalar(select(Tenant.id).where(wanted))
    if found is None:
        raise click.ClickException(f"no tenant {tenant!r}")
    return found


async def _run(tenant: str, flow_id: uuid.UUID | None, ref: Any) -> dict[str, dict[str, Any]]:
    reports: dict[str, dict[str, Any]] = {}
    async with open_platform() as platform:
        with tenant_scope(await _tenant_id(platform, tenant)):
            async with platform.database.session() as session:
                query = select(Flow).order_by(Flow.name)
                if flow_id is not None:
                    query = query.where(Flow.id == flow_id)
                flows = list(await session.scalars(query))
                if flow_id is not None and not flows:
                    raise click.ClickException("the organization has no flow with this id")
                for flow in flows:
                    if ref == "current" and flow.current_version_id is None:
                        continue
                    reports[flow.name] = await service.run_tests(platform, session, flow, ref)
                await session.commit()
    return reports
