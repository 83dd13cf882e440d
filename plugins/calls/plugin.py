"""calls: the voice domain core. Calls and their provider-neutral status machine, phone
numbers, recordings, transcripts, call control, and the telephony provider contract
(``plugins.calls.provider``) that Twilio, Telnyx and loopback implement. Hook
implementations only; see ``docs/plugins/calls.md`` and ``docs/providers.md``."""

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
    JobTopic,
    MigrationSource,
    Permission,
    Platform,
    PluginInfo,
    __version__,
    hookimpl,
)


@hookimpl
def kraliki_plugin_info() -> PluginInfo:
    return PluginInfo(
        name="calls",
        version=__version__,
        description="Calls over swappable telephony providers: placing, control, status, "
        "recordings, transcripts, numbers.",
    )


@hookimpl
def kraliki_add_hookspecs() -> ModuleType:
    from plugins.calls import hookspecs

    return hookspecs


@hookimpl
def kraliki_configure(platform: Platform) -> None:
    from plugins.calls.registry import configure

    configure(platform)


@hookimpl
def kraliki_models() -> Sequence[type]:
    from plugins.calls import models

    return [
        models.Call,
        models.CallEvent,
        models.Recording,
        models.TranscriptSegmentRow,
        models.PhoneNumber,
        models.CallSettingsRow,
        models.WebhookReceipt,
    ]


@hookimpl
def kraliki_migrations() -> MigrationSource:
    return MigrationSource(Path(__file__).parent / "migrations" / "versions")


@hookimpl
def kraliki_permissions() -> Sequence[Permission]:
    from plugins.calls.permissions import PERMISSIONS

    return PERMISSIONS


@hookimpl
def kraliki_routes() -> Sequence[APIRouter]:
    from plugins.calls import admin, api, numbers

    # Fixed paths first: /numbers and /settings must not be taken for a call id.
    return [numbers.router, admin.router, api.router]


@hookimpl
def kraliki_event_types() -> Sequence[type[Event]]:
    from plugins.calls.events import EVENT_TYPES

    return EVENT_TYPES


@hookimpl
def kraliki_jobs() -> Sequence[JobTopic]:
    from plugins.calls.reconcile import reconcile_job
    from plugins.calls.recordings import retention_job

    return [
        JobTopic(
            "calls.retention",
            retention_job,
            "Delete recordings past the tenant's retention and old webhook receipts (daily).",
        ),
        JobTopic(
            "calls.reconcile",
            reconcile_job,
            "Ask the providers of stale unended calls where they are, and settle them (when "
            "a call could go stale, at start-up, and while unended calls remain).",
        ),
    ]


@hookimpl
async def kraliki_startup(platform: Platform) -> None:
    """Calls a dead process left unended are reconciled now, not at their next wake-up."""
    from plugins.calls.reconcile import wake_everywhere

    await wake_everywhere(platform)


@hookimpl
def kraliki_cli(cli: click.Group) -> None:
    from plugins.calls.cli import calls

    cli.add_command(calls)


@hookimpl(optionalhook=True)
async def kraliki_contact_erased(
    platform: Platform,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    numbers: Sequence[str],
    pseudonym: str,
) -> None:
    """The contacts plugin erased a contact: so do its calls (``plugins.calls.erasure``)."""
    from plugins.calls.erasure import erase_contact

    await erase_contact(
        platform, session, tenant_id=tenant_id, numbers=numbers, pseudonym=pseudonym
    )


@hookimpl(optionalhook=True)
async def kraliki_contact_data(session: AsyncSession, numbers: Sequence[str]) -> Any:
    """A contact's data export (the contacts plugin's hook): what calls holds about its numbers."""
    from plugins.calls.contact_data import contact_data

    return await contact_data(session, numbers)
