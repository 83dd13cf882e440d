"""The shape every telephony provider plugin has (``docs/providers.md``, "Shape of a provider
plugin"; ADR 0024): the same role under the same module name in Twilio, Telnyx, loopback and
yours, so that a reader (or the next provider) finds each part where the others keep it.

:func:`provider_shape_problems` checks one installed provider against it; the project's test
runs it over every provider the loaded plugins contribute, and a provider plugin's own tests
can run it on itself (``plugins.calls.testing``).
"""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType

from pydantic_settings import BaseSettings

from kernel import Platform, StateKey
from plugins.calls.provider import TelephonyProvider
from plugins.calls.registry import installed_providers

PROVIDER_SHAPE: dict[str, tuple[str, ...]] = {
    "plugin": ("kraliki_plugin_info", "kraliki_telephony_providers", "kraliki_webhook_routes"),
    "config": ("SETTINGS", "configure", "settings_of"),
    "secrets": ("SECRETS",),
    "signature": ("SignatureError", "verify_signature"),
    "webhooks": ("parse_webhook",),
    "provider": (),
    "instructions": (),
    "testing": (),
}
"""Module of the provider's package → the names it must define. ``client`` (the provider's
REST client) is there when the provider has a REST API (not loopback)."""
OPTIONAL_MODULES = ("client",)


def provider_shape_problems(platform: Platform, name: str) -> list[str]:
    """What provider ``name`` (installed on ``platform``) lacks of the shape; empty when it
    has it all."""
    spec = installed_providers(platform).get(name)
    plugin = platform.plugins.get(installed_providers(platform).owner(name))
    entry = getattr(plugin.obj, "__name__", "")
    package, _, module = entry.rpartition(".")
    if module != "plugin" or not package:
        return [f"{name}: the plugin's entry point is {entry!r}, not <package>.plugin"]
    problems: list[str] = []
    modules: dict[str, ModuleType] = {}
    for role, names in PROVIDER_SHAPE.items():
        try:
            modules[role] = importlib.import_module(f"{package}.{role}")
        except ModuleNotFoundError:
            problems.append(f"{name}: no module {package}.{role}")
            continue
        problems += [
            f"{name}: {package}.{role} has no {attribute}"
            for attribute in names
            if not hasattr(modules[role], attribute)
        ]
    if problems:
        return problems
    problems += _hooks_only(name, modules["plugin"])
    problems += _config(name, platform, modules["config"])
    if spec.factory is not getattr(modules["provider"], spec.factory.__name__, None):
        problems.append(f"{name}: the provider's factory is not defined in {package}.provider")
    elif not issubclass(spec.factory, TelephonyProvider):
        problems.append(f"{name}: {spec.factory.__name__} is not a TelephonyProvider")
    declared = {secret.name for secret in modules["secrets"].SECRETS}
    problems += [
        f"{name}: secret {secret} is not in {package}.secrets.SECRETS"
        for secret in spec.secrets
        if secret not in declared
    ]
    return problems


def _hooks_only(name: str, module: ModuleType) -> list[str]:
    """``plugin.py`` holds hook implementations only."""
    return [
        f"{name}: {module.__name__}.{attribute} is not a hook implementation"
        for attribute, value in vars(module).items()
        if inspect.isfunction(value)
        and value.__module__ == module.__name__
        and not attribute.startswith("_")
        and not hasattr(value, "kraliki_impl")
    ]


def _config(name: str, platform: Platform, module: ModuleType) -> list[str]:
    """``<Name>Settings`` (pydantic-settings), kept under ``SETTINGS`` by ``configure``."""
    class_name = f"{name.title().replace('_', '')}Settings"
    settings_class = getattr(module, class_name, None)
    if not (inspect.isclass(settings_class) and issubclass(settings_class, BaseSettings)):
        return [f"{name}: {module.__name__} has no pydantic-settings class {class_name}"]
    if not isinstance(module.SETTINGS, StateKey):
        return [f"{name}: {module.__name__}.SETTINGS is not a StateKey"]
    if not isinstance(module.settings_of(platform), settings_class):
        return [f"{name}: {module.__name__}.settings_of does not give its {class_name}"]
    return []
