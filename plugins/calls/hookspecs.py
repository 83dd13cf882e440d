"""Hooks the calls plugin adds: other plugins extend it through these."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from kernel import hookspec

if TYPE_CHECKING:
    from plugins.calls.handlers import HandlerSpec
    from plugins.calls.provider import ProviderSpec


@hookspec
def kraliki_telephony_providers() -> Sequence[ProviderSpec]:  # type: ignore[empty-body]
    """Contribute telephony providers (Twilio, Telnyx, loopback, yours).

    Called once per platform, while ``calls`` configures itself. Return
    :class:`plugins.calls.provider.ProviderSpec` values; the provider's name must be the
    plugin's own name (its webhooks arrive at ``/webhooks/<name>/<tenant id>/<kind>``, mounted
    with ``plugins.calls.webhooks.provider_webhook_router``). Two plugins offering one name
    stop the platform.
    """


@hookspec
def kraliki_call_handlers() -> Sequence[HandlerSpec]:  # type: ignore[empty-body]
    """Contribute call handlers: what drives a call routed to them (the IVR, queues).

    Called once per platform, while ``calls`` configures itself. Return
    :class:`plugins.calls.handlers.HandlerSpec` values; a handler's name is the ``route`` a
    phone number gives to send its calls there. Two plugins offering one name stop the
    platform. See ``plugins.calls.handlers``.
    """
