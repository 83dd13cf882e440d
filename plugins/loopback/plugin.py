"""loopback: a telephony provider that needs no account, for ``make run``, demos and tests.

Calls go to a scripted callee simulated in this process; its events reach the platform
through the same signed webhooks as a real carrier's. Hook implementations only; see
``docs/providers.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kernel import (
    MigrationSource,
    Permission,
    Platform,
    PluginInfo,
    SecretSpec,
    __version__,
    hookimpl,
)

if TYPE_CHECKING:
    from fastapi import APIRouter

    from plugins.calls import ProviderSpec


@hookimpl
def kraliki_plugin_info() -> PluginInfo:
    return PluginInfo(
        name="loopback",
        version=__version__,
        requires=("calls",),
        description="A telephony provider that needs no account: scripted callees in this "
        "process, signed webhooks over HTTP (development, demos, tests).",
    )


@hookimpl
def kraliki_configure(platform: Platform) -> None:
    from plugins.loopback import config
    from plugins.loopback.carrier import state

    config.configure(platform)
    state.configure(platform)


@hookimpl
def kraliki_models() -> Sequence[type]:
    from plugins.loopback.models import CarrierLease

    return [CarrierLease]


@hookimpl
def kraliki_migrations() -> MigrationSource:
    return MigrationSource(Path(__file__).parent / "migrations" / "versions")


@hookimpl
def kraliki_telephony_providers() -> Sequence[ProviderSpec]:
    from plugins.calls import ProviderSpec
    from plugins.loopback.provider import CAPABILITIES, LoopbackProvider

    return [
        ProviderSpec(
            name="loopback",
            factory=LoopbackProvider,
            capabilities=CAPABILITIES,
            secrets=(),
            default_calls_per_second=10,
            description="Scripted callees in this process, no account needed (development, "
            "demos and tests; calls live in the process that placed them).",
        )
    ]


@hookimpl
def kraliki_permissions() -> Sequence[Permission]:
    from plugins.loopback.permissions import PERMISSIONS

    return PERMISSIONS


@hookimpl
def kraliki_routes() -> Sequence[APIRouter]:
    from plugins.loopback import api

    return [api.router]


@hookimpl
def kraliki_webhook_routes() -> Sequence[APIRouter]:
    from plugins.calls import provider_webhook_router

    return [provider_webhook_router("loopback")]


@hookimpl
def kraliki_vault_secrets() -> Sequence[SecretSpec]:
    from plugins.loopback.secrets import SECRETS

    return SECRETS


@hookimpl
def kraliki_startup(platform: Platform) -> None:
    from plugins.loopback.carrier.state import loopback_state

    loopback_state(platform).closed = False


@hookimpl
async def kraliki_shutdown(platform: Platform) -> None:
    from plugins.loopback.carrier.state import loopback_state

    state = loopback_state(platform)
    await state.close()
    await state.lease.release(platform)  # its calls are lost to the other processes at once


@hookimpl(optionalhook=True)
def kraliki_agent_loopback_script_problems(script: list[Any]) -> list[tuple[str, str]]:
    """The agents plugin's check of a loopback agent's phone: the script is this carrier's."""
    from plugins.loopback import validate_script

    return validate_script(script)
