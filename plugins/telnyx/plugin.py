"""telnyx: telephony over Telnyx Call Control v2, with each tenant's own Telnyx account.
Hook implementations only; see ``docs/providers.md``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kernel import Platform, PluginInfo, SecretSpec, __version__, hookimpl

if TYPE_CHECKING:
    from fastapi import APIRouter

    from plugins.calls import ProviderSpec


@hookimpl
def kraliki_plugin_info() -> PluginInfo:
    return PluginInfo(
        name="telnyx",
        version=__version__,
        requires=("calls",),
        description="Calls over Telnyx Call Control v2 (tenant's own account).",
    )


@hookimpl
def kraliki_configure(platform: Platform) -> None:
    from plugins.telnyx.config import configure

    configure(platform)


@hookimpl
async def kraliki_startup() -> None:
    """Load the Telnyx SDK while the worker starts (in a thread: the event loop stays free),
    not during the first call's webhook."""
    from plugins.telnyx.client import load_sdk

    await asyncio.to_thread(load_sdk)


@hookimpl
def kraliki_telephony_providers() -> Sequence[ProviderSpec]:
    from plugins.calls import Capability, ProviderSpec
    from plugins.telnyx.provider import TelnyxProvider
    from plugins.telnyx.secrets import API_KEY, CONNECTION_ID, PUBLIC_KEY

    return [
        ProviderSpec(
            name="telnyx",
            factory=TelnyxProvider,
            capabilities=frozenset(
                {
                    Capability.TRANSFER,
                    Capability.HOLD,
                    Capability.DTMF,
                    Capability.RECORDING,
                    Capability.TRANSCRIPTION,
                    Capability.MACHINE_DETECTION,
                    Capability.CONFERENCING,
                    Capability.COACHING,
                    Capability.SECURE_PAYMENTS,
                    # No SPEECH_RECOGNITION: Call Control's gather commands collect DTMF only.
                }
            ),
            secrets=(API_KEY, PUBLIC_KEY, CONNECTION_ID),
            description="Telnyx Call Control v2: commands over REST, Ed25519-signed webhooks.",
            default_calls_per_second=1.0,
        )
    ]


@hookimpl
def kraliki_vault_secrets() -> Sequence[SecretSpec]:
    from plugins.telnyx.secrets import SECRETS

    return SECRETS


@hookimpl
def kraliki_webhook_routes() -> Sequence[APIRouter]:
    """``POST /webhooks/telnyx/<tenant id>/events``: the Call Control application's webhook
    URL (calls verifies with the tenant's public key, de-duplicates, applies, answers)."""
    from plugins.calls import provider_webhook_router

    return [provider_webhook_router("telnyx")]
