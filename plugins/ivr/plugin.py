"""ivr: call flows as versioned graphs of typed nodes, their runtime on every telephony
provider (a call handler of ``calls``), a simulator and saved regression tests. Hook
implementations only; see ``docs/plugins/ivr.md``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import click
from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import (
    Event,
    MigrationSource,
    Permission,
    Platform,
    PluginInfo,
    SecretSpec,
    __version__,
    hookimpl,
)


@hookimpl
def kraliki_plugin_info() -> PluginInfo:
    return PluginInfo(
        name="ivr",
        version=__version__,
        description="IVR: versioned call flows, their runtime on every provider, a simulator "
        "and regression tests.",
        requires=("calls",),
    )


@hookimpl
def kraliki_add_hookspecs() -> ModuleType:
    from plugins.ivr import hookspecs

    return hookspecs


@hookimpl
def kraliki_configure(platform: Platform) -> None:
    from plugins.ivr.registry import configure

    configure(platform)


@hookimpl
def kraliki_models() -> Sequence[type]:
    from plugins.ivr import models

    return [
        models.Flow,
        models.FlowVersion,
        models.FlowSession,
        models.FlowTest,
        models.IvrSettingsRow,
    ]


@hookimpl
def kraliki_migrations() -> MigrationSource:
    return MigrationSource(Path(__file__).parent / "migrations" / "versions")


@hookimpl
def kraliki_permissions() -> Sequence[Permission]:
    from plugins.ivr.permissions import PERMISSIONS

    return PERMISSIONS


@hookimpl
def kraliki_vault_secrets() -> Sequence[SecretSpec]:
    return [
        SecretSpec(
            name="ivr.lookup_token",
            description="Bearer token the IVR's HTTP lookup nodes (auth: bearer) send to "
            "your own API.",
            kind="auth_token",
        )
    ]


@hookimpl
def kraliki_routes() -> Sequence[APIRouter]:
    from plugins.ivr import api, tests_api

    # Fixed paths (/settings, /samples, /node-types) come before /flows/{id}.
    return [api.fixed_router, tests_api.router, api.router]


@hookimpl
def kraliki_event_types() -> Sequence[type[Event]]:
    from plugins.ivr.events import EVENT_TYPES

    return EVENT_TYPES


@hookimpl
def kraliki_call_handlers() -> Sequence[object]:
    from plugins.calls import HandlerSpec
    from plugins.ivr.runtime import IvrHandler

    return [HandlerSpec(IvrHandler(), "Runs the published version of an IVR flow.")]


@hookimpl
def kraliki_cli(cli: click.Group) -> None:
    from plugins.ivr.cli import ivr

    cli.add_command(ivr)


@hookimpl(optionalhook=True)
async def kraliki_contact_erased(
    session: AsyncSession, tenant_id: uuid.UUID, numbers: Sequence[str], pseudonym: str
) -> None:
    """The contacts plugin erased a contact: so does the IVR (``plugins.ivr.erasure``)."""
    from plugins.ivr.erasure import erase_contact

    await erase_contact(session, tenant_id=tenant_id, numbers=numbers, pseudonym=pseudonym)


@hookimpl(optionalhook=True)
async def kraliki_contact_data(session: AsyncSession, numbers: Sequence[str]) -> Any:
    """A contact's data export (the contacts plugin's hook): what ivr holds about its numbers."""
    from plugins.ivr.contact_data import contact_data

    return await contact_data(session, numbers)
