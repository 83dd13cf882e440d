"""The providers contributed through ``kraliki_telephony_providers`` and building them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from kernel import Platform, PluginError, UniqueRegistry
from plugins.calls.config import CallsSettings
from plugins.calls.provider import ProviderContext, ProviderSpec, TelephonyProvider


@dataclass
class CallsState:
    """What ``calls`` keeps per platform (``platform.state["calls"]``)."""

    settings: CallsSettings
    providers: UniqueRegistry[ProviderSpec]


def configure(platform: Platform) -> CallsState:
    providers: UniqueRegistry[ProviderSpec] = UniqueRegistry("telephony provider")
    for plugin, specs in platform.hooks.collect_now("kraliki_telephony_providers"):
        for spec in specs:
            if not isinstance(spec, ProviderSpec):
                raise PluginError(
                    f"plugin {plugin!r}: kraliki_telephony_providers returned {spec!r}"
                )
            if spec.name != plugin:
                raise PluginError(
                    f"plugin {plugin!r}: its telephony provider must be named {plugin!r}, "
                    f"not {spec.name!r}"
                )
            providers.register(spec.name, spec, plugin=plugin)
    state = CallsState(settings=CallsSettings(), providers=providers)
    platform.state["calls"] = state
    return state


def calls_state(platform: Platform) -> CallsState:
    state: CallsState = platform.state["calls"]
    return state


def build_provider(
    platform: Platform, tenant_id: uuid.UUID, name: str, *, call_id: uuid.UUID | None = None
) -> TelephonyProvider:
    """A fresh provider object for one tenant and one use (about one call, if given)."""
    state = calls_state(platform)
    spec = state.providers.get(name)
    plugin = state.providers.owner(name)
    context = ProviderContext(
        platform=platform,
        tenant_id=tenant_id,
        provider=name,
        plugin=plugin,
        public_base_url=state.settings.public_base_url,
        webhook_prefix=platform.plugins.get(plugin).info.prefix,
        call_id=call_id,
    )
    return spec.factory(context)
