"""acme_blocklist: numbers that must never be dialled. Hook implementations only."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click
from fastapi import APIRouter

from kernel import MigrationSource, Permission, Platform, PluginInfo, hookimpl

READ = Permission("acme_blocklist.numbers", "read", "List blocked numbers.", ("admin", "agent"))
WRITE = Permission("acme_blocklist.numbers", "write", "Block and unblock numbers.", ("admin",))

# Recorded by kraliki_startup so tests (and operators, in logs) can see the hook ran.
started: list[str] = []


@hookimpl
def kraliki_plugin_info() -> PluginInfo:
    return PluginInfo(
        name="acme_blocklist",
        version="1.2.0",
        description="Numbers our agents must never dial.",
        route_prefix="blocklist",
    )


@hookimpl
def kraliki_permissions() -> Sequence[Permission]:
    return [READ, WRITE]


@hookimpl
def kraliki_models() -> Sequence[type]:
    from acme_blocklist.models import BlockedNumber

    return [BlockedNumber]


@hookimpl
def kraliki_migrations() -> MigrationSource:
    return MigrationSource(Path(__file__).parent / "migrations" / "versions")


@hookimpl
def kraliki_routes() -> Sequence[APIRouter]:
    from acme_blocklist.api import router

    return [router]


@hookimpl
def kraliki_cli(cli: click.Group) -> None:
    from acme_blocklist.cli import blocklist

    cli.add_command(blocklist)


@hookimpl
async def kraliki_startup(platform: Platform) -> None:
    started.append(f"acme_blocklist started on {platform.database.dialect}")
