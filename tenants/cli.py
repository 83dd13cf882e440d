"""``kraliki tenants ...``: the tenant lifecycle from a server's shell."""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from kernel import Platform, Tenant, TenantStatus, UserExistsError, open_platform
from tenants import service

T = TypeVar("T")


def _run(action: Callable[[Platform], Awaitable[T]]) -> T:
    async def main() -> T:
        async with open_platform() as platform:
            return await action(platform)

    try:
        return asyncio.run(main())
    except (service.SlugTakenError, service.TenantNotFoundError, UserExistsError) as exc:
        raise click.ClickException(str(exc)) from exc


def _as_json(tenant: Tenant, **extra: Any) -> str:
    return json.dumps(
        {
            "id": str(tenant.id),
            "slug": tenant.slug,
            "name": tenant.name,
            "status": tenant.status,
            "disabled_plugins": list(tenant.disabled_plugins or []),
            **extra,
        }
    )


def _operator() -> Any:
    return service.cli_operator(getpass.getuser())


@click.group()
def tenants() -> None:
    """Create, list, suspend, resume and delete tenants (recorded in the operator audit log)."""


@tenants.command()
@click.option("--name", required=True, help="Display name of the organization.")
@click.option("--slug", required=True, help="Short unique id used at login (a-z, 0-9, -).")
@click.option("--owner-email", required=True, help="E-mail of the first owner.")
@click.option(
    "--owner-password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Password of the first owner (prompted when omitted; at least 12 characters).",
)
def create(name: str, slug: str, owner_email: str, owner_password: str) -> None:
    """Create a tenant with its owner; prints the tenant as JSON."""
    from pydantic import ValidationError

    from tenants.api import TenantCreate

    try:
        TenantCreate(name=name, slug=slug, owner_email=owner_email, owner_password=owner_password)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise click.BadParameter(problems) from None

    async def action(platform: Platform) -> service.CreatedTenant:
        return await service.create_tenant(
            platform,
            _operator(),
            name=name,
            slug=slug,
            owner_email=owner_email,
            owner_password=owner_password,
        )

    created = _run(action)
    click.echo(_as_json(created.tenant, owner_user_id=str(created.owner_user_id)))


@tenants.command("list")
def list_tenants() -> None:
    """Print every tenant, one JSON object per line."""
    from sqlalchemy import select

    async def action(platform: Platform) -> list[Tenant]:
        async with platform.database.session() as session:
            return list(await session.scalars(select(Tenant).order_by(Tenant.created_at)))

    for tenant in _run(action):
        click.echo(_as_json(tenant))


def _status_command(status: TenantStatus) -> Callable[[str], None]:
    def command(tenant: str) -> None:
        async def action(platform: Platform) -> Tenant:
            found = await service.get_tenant(platform, tenant)
            return await service.set_status(platform, _operator(), found.id, status)

        click.echo(_as_json(_run(action)))

    return command


tenants.command("suspend", help="Suspend TENANT (id or slug): its credentials stop at once.")(
    click.argument("tenant")(_status_command(TenantStatus.SUSPENDED))
)
tenants.command("resume", help="Resume TENANT (id or slug).")(
    click.argument("tenant")(_status_command(TenantStatus.ACTIVE))
)


@tenants.command()
@click.argument("tenant")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete(tenant: str, yes: bool) -> None:
    """Delete TENANT (id or slug) and purge every row it owns."""

    async def find(platform: Platform) -> Tenant:
        return await service.get_tenant(platform, tenant)

    found = _run(find)
    if not yes:
        click.confirm(
            f"Delete tenant {found.slug!r} ({found.name}) and ALL its data? This cannot be undone",
            abort=True,
        )

    async def action(platform: Platform) -> None:
        await service.delete_tenant(platform, _operator(), found.id)

    _run(action)
    click.echo(json.dumps({"deleted": str(found.id), "slug": found.slug}))
