"""contacts: the people an organization calls and who call it; imports, segments, the
do-not-call list and the consent ledger. Hook implementations only; see
``docs/plugins/contacts.md``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import click
from fastapi import APIRouter

from kernel import (
    DeliveredEvent,
    Event,
    JobTopic,
    MigrationSource,
    Permission,
    Platform,
    PluginInfo,
    Principal,
    SecretSpec,
    __version__,
    hookimpl,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from plugins.calls import Call


@hookimpl
def kraliki_plugin_info() -> PluginInfo:
    return PluginInfo(
        name="contacts",
        version=__version__,
        description="Contacts with normalised numbers, CSV imports, segments, a do-not-call "
        "list and a consent ledger; calls join each contact's timeline.",
        requires=("calls", "ivr"),
    )


@hookimpl
def kraliki_add_hookspecs() -> ModuleType:
    from plugins.contacts import hookspecs

    return hookspecs


@hookimpl
def kraliki_permissions() -> Sequence[Permission]:
    from plugins.contacts.permissions import PERMISSIONS

    return PERMISSIONS


@hookimpl
def kraliki_models() -> Sequence[type]:
    from plugins.contacts.models import MODELS

    return MODELS


@hookimpl
def kraliki_migrations() -> MigrationSource:
    return MigrationSource(Path(__file__).parent / "migrations" / "versions")


@hookimpl
def kraliki_configure(platform: Platform) -> None:
    from plugins.contacts.config import CONTACTS_SETTINGS, ContactsSettings

    CONTACTS_SETTINGS.set(platform, ContactsSettings())


@hookimpl
def kraliki_routes() -> Sequence[APIRouter]:
    from plugins.contacts import api
    from plugins.contacts.compliance import api as compliance_api
    from plugins.contacts.imports import api as imports_api
    from plugins.contacts.privacy import api as privacy_api
    from plugins.contacts.segments import api as segments_api
    from plugins.contacts.timeline import api as timeline_api

    # Fixed paths (/imports, /segments, /dnc, ...) come before /{contact_id}.
    return [
        api.fixed_router,
        imports_api.router,
        segments_api.router,
        compliance_api.router,
        privacy_api.router,
        timeline_api.router,
        api.router,
    ]


@hookimpl
def kraliki_event_types() -> Sequence[type[Event]]:
    from plugins.contacts.events import EVENT_TYPES

    return EVENT_TYPES


@hookimpl
def kraliki_jobs() -> Sequence[JobTopic]:
    from plugins.contacts.imports.job import IMPORT_JOB
    from plugins.contacts.privacy.erasure import ERASURE_JOB

    return [IMPORT_JOB, ERASURE_JOB]


@hookimpl
async def kraliki_events(platform: Platform, events: Sequence[DeliveredEvent]) -> Any:
    from plugins.contacts.timeline.linking import link_calls

    await link_calls(platform, events)


@hookimpl
def kraliki_cli(cli: click.Group) -> None:
    from plugins.contacts.cli import contacts

    cli.add_command(contacts)


@hookimpl
def kraliki_vault_secrets() -> Sequence[SecretSpec]:
    from plugins.contacts.compliance.hashing import SECRETS

    return SECRETS


@hookimpl
def kraliki_startup(platform: Platform) -> None:
    from plugins.contacts.compliance.hashing import register_platform

    register_platform(platform)


@hookimpl
def kraliki_ivr_node_types() -> Sequence[object]:
    from plugins.contacts.compliance.ivr import OptOutNode

    return [OptOutNode()]


@hookimpl
async def kraliki_contact_erased(
    platform: Platform,
    session: AsyncSession,
    contact_id: uuid.UUID,
    numbers: Sequence[str],
    pseudonym: str,
) -> None:
    """The contacts plugin's own part of an erasure (``privacy/own.py``)."""
    from plugins.contacts.privacy.own import erase_own

    await erase_own(platform, session, contact_id=contact_id, numbers=numbers, pseudonym=pseudonym)


@hookimpl
async def kraliki_call_links(
    session: AsyncSession, principal: Principal, calls: Sequence[Call]
) -> Mapping[uuid.UUID, Mapping[str, Any]]:
    """Each call's contact, for principals who may read contacts (``timeline/links.py``)."""
    from plugins.contacts.timeline.links import call_links

    return await call_links(session, principal, [call.id for call in calls])
