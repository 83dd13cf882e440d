"""The providers contributed through ``kraliki_telephony_providers`` and building them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, PluginError, ProblemError, StateKey, UniqueRegistry
from plugins.calls.config import CallsSettings
from plugins.calls.handlers import CallHandler, HandlerSpec
from plugins.calls.problems import HANDLER_UNAVAILABLE, UNKNOWN_PROVIDER
from plugins.calls.provider import ProviderContext, ProviderSpec, TelephonyProvider


@dataclass
class CallsState:
    """What ``calls`` keeps per platform (under :data:`CALLS_STATE`)."""

    settings: CallsSettings
    providers: UniqueRegistry[ProviderSpec]
    handlers: UniqueRegistry[HandlerSpec]

    def handler(self, name: str | None) -> CallHandler | None:
        """The installed handler ``name`` (None when there is no such handler)."""
        if name is None or name not in self.handlers:
            return None
        return self.handlers.get(name).handler


CALLS_STATE = StateKey[CallsState]("calls")


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
    state = CallsState(
        settings=_settings(platform), providers=providers, handlers=_collect_handlers(platform)
    )
    return CALLS_STATE.set(platform, state)


def _settings(platform: Platform) -> CallsSettings:
    """The calls settings; with no KRALIKI_CALLS_PUBLIC_BASE_URL, the address ``kraliki
    serve`` serves on (so loopback calls reach the platform on any port)."""
    settings = CallsSettings()
    served = platform.settings.served_base_url
    if "public_base_url" not in settings.model_fields_set and served:
        settings = settings.model_copy(update={"public_base_url": served})
    return settings


def _collect_handlers(platform: Platform) -> UniqueRegistry[HandlerSpec]:
    handlers: UniqueRegistry[HandlerSpec] = UniqueRegistry("call handler")
    for plugin, specs in platform.hooks.collect_now("kraliki_call_handlers"):
        for spec in specs:
            if not isinstance(spec, HandlerSpec) or not isinstance(spec.handler, CallHandler):
                raise PluginError(f"plugin {plugin!r}: kraliki_call_handlers returned {spec!r}")
            if spec.handler.name in ("none", "forward"):
                raise PluginError(
                    f"plugin {plugin!r}: {spec.handler.name!r} is a route of calls itself"
                )
            handlers.register(spec.handler.name, spec, plugin=plugin)
    return handlers


def calls_state(platform: Platform) -> CallsState:
    return CALLS_STATE.get(platform)


def installed_providers(platform: Platform) -> UniqueRegistry[ProviderSpec]:
    """The telephony providers the loaded plugins contributed (``kraliki_telephony_providers``),
    by name; ``owner(name)`` is the plugin that contributed one."""
    return calls_state(platform).providers


def require_provider(platform: Platform, name: str) -> ProviderSpec:
    """The installed provider ``name``, or a 422 listing those that are installed."""
    providers = calls_state(platform).providers
    if name not in providers:
        raise ProblemError(
            UNKNOWN_PROVIDER, f"no telephony provider {name!r}", providers=sorted(providers)
        )
    return providers.get(name)


async def missing_secrets(platform: Platform, session: AsyncSession, name: str) -> list[str]:
    """The provider's vault secrets the tenant has not stored (empty: it is configured)."""
    spec = calls_state(platform).providers.get(name)
    return [secret for secret in spec.secrets if await platform.vault.get(session, secret) is None]


def build_provider(
    platform: Platform,
    tenant_id: uuid.UUID,
    name: str,
    *,
    call_id: uuid.UUID | None = None,
    webhook_session: AsyncSession | None = None,
) -> TelephonyProvider:
    """A fresh provider object for one tenant and one use (about one call, if given; a
    webhook read in ``webhook_session``, if given)."""
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
        webhook_session=webhook_session,
    )
    return spec.factory(context)


async def check_handler(
    platform: Platform, session: AsyncSession, name: str, target: str | None, *, field: str
) -> None:
    """A 422 unless handler ``name`` is installed and accepts ``target``."""
    handler = calls_state(platform).handler(name)
    if handler is None:
        raise ProblemError(
            HANDLER_UNAVAILABLE, f"no call handler {name!r} is installed", field=field
        )
    why = await handler.check_target(session, target or "")
    if why is not None:
        raise ProblemError(HANDLER_UNAVAILABLE, f"{field}: {why}", field=field)
