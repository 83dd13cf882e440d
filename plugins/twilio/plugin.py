"""twilio: the Twilio telephony provider for ``calls``. REST through the official SDK, TwiML
answers, webhooks verified with the tenant's auth token. Hook implementations only; see
``docs/providers.md``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from fastapi import APIRouter

from kernel import Platform, PluginInfo, SecretSpec, __version__, hookimpl

if TYPE_CHECKING:
    from plugins.calls import ProviderSpec


@hookimpl
def kraliki_plugin_info() -> PluginInfo:
    return PluginInfo(
        name="twilio",
        version=__version__,
        requires=("calls",),
        description="Twilio Programmable Voice as a telephony provider: calls, control, "
        "recordings, real-time transcripts, machine detection, secure payments, speech "
        "recognition.",
    )


@hookimpl
def kraliki_configure(platform: Platform) -> None:
    from plugins.twilio.config import configure

    configure(platform)


@hookimpl
def kraliki_vault_secrets() -> Sequence[SecretSpec]:
    from plugins.twilio.secrets import SECRETS

    return SECRETS


@hookimpl
def kraliki_telephony_providers() -> Sequence[ProviderSpec]:
    from plugins.calls import Capability, ProviderSpec
    from plugins.twilio.provider import TwilioProvider
    from plugins.twilio.secrets import ACCOUNT_SID, AUTH_TOKEN

    return [
        ProviderSpec(
            name="twilio",
            factory=TwilioProvider,
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
                    Capability.AGENT_PAYMENTS,
                    Capability.SPEECH_RECOGNITION,
                }
            ),
            secrets=(ACCOUNT_SID, AUTH_TOKEN),
            default_calls_per_second=1.0,
            description="Twilio Programmable Voice (TwiML).",
        )
    ]


@hookimpl
def kraliki_webhook_routes() -> Sequence[APIRouter]:
    from plugins.calls import provider_webhook_router

    return [provider_webhook_router("twilio")]
