"""``kraliki vault ...``: master keys and rotations from a server's shell."""

from __future__ import annotations

import asyncio
import getpass
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy import select

from kernel._identity.audit import record_audit_event
from kernel._principal import Principal
from kernel._tenancy import Tenant
from kernel._vault import rotation
from kernel._vault.keys import KeyProviderError, LocalKeyProvider, new_master_key, prepend_key

T = TypeVar("T")


def _run(action: Callable[[Any], Awaitable[T]]) -> T:
    from kernel._platform import open_platform

    async def main() -> T:
        async with open_platform() as platform:
            return await action(platform)

    try:
        return asyncio.run(main())
    except KeyProviderError as exc:
        raise click.ClickException(str(exc)) from exc


def _operator() -> Principal:
    return Principal(subject="cli", kind="operator", label=f"cli ({getpass.getuser()})")


async def _audit(platform: Any, action: str, tenant_id: uuid.UUID | None, details: Any) -> None:
    async with platform.database.session() as session:
        record_audit_event(
            session,
            _operator(),
            action,
            target_type="vault",
            tenant_id=tenant_id,
            details=details,
        )
        await session.commit()


@click.group()
def vault() -> None:
    """The key vault: master keys and key rotation (see docs/security/vault.md)."""


@vault.command("generate-key")
@click.option(
    "--into-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Put the new key first in this key file (older keys stay, to unwrap) instead of "
    "printing it.",
)
def generate_key(into_file: Path | None) -> None:
    """Make a new master key (base64url, 32 random bytes)."""
    key = new_master_key()
    if into_file is None:
        click.echo(key)
        return
    prepend_key(into_file, key)
    provider = LocalKeyProvider.from_text(into_file.read_text())
    click.echo(f"new master key written first in {into_file} ({provider.kek_ids[0]})")


@vault.command("rotate-kek")
def rotate_kek() -> None:
    """Re-wrap every tenant's data keys with the current master key (the first one).

    Resumable: run again after an interruption. Remove an old master key only when this
    reports "remaining": 0.
    """

    async def action(platform: Any) -> rotation.KekRotation:
        report = await rotation.rotate_kek(platform.vault)
        await _audit(platform, "vault.kek.rotated", None, asdict(report))
        return report

    click.echo(json.dumps(asdict(_run(action))))


@vault.command("rotate-dek")
@click.option("--tenant", "tenant_ref", required=True, help="Tenant id or slug.")
def rotate_dek(tenant_ref: str) -> None:
    """Give a tenant a new data key and re-encrypt its secrets (online, resumable)."""

    async def action(platform: Any) -> rotation.DataKeyRotation:
        async with platform.database.session() as session:
            try:
                condition = Tenant.id == uuid.UUID(tenant_ref)
            except ValueError:
                condition = Tenant.slug == tenant_ref
            tenant_id = await session.scalar(select(Tenant.id).where(condition))
        if tenant_id is None:
            raise click.ClickException(f"no tenant {tenant_ref!r}")
        report = await rotation.rotate_data_key(platform.vault, tenant_id)
        await _audit(platform, "vault.data_key.rotated", tenant_id, _jsonable(asdict(report)))
        return report

    click.echo(json.dumps(_jsonable(asdict(_run(action)))))


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, uuid.UUID) else v for k, v in values.items()}
