"""Per-tenant plugin enablement: which features an organization uses.

The kernel enforces it (a disabled plugin's routes answer 404 for the tenant and its tenant
hooks skip it) from ``Tenant.disabled_plugins``; this module decides what may change.
"""

from __future__ import annotations

from packaging.requirements import Requirement
from pydantic import BaseModel

from kernel import Platform, ProblemError, Tenant, define_problem

UNKNOWN_PLUGIN = define_problem(
    "unknown-plugin", "Unknown plugin", 404, "No feature plugin of this name is loaded."
)
PLUGIN_DEPENDENCY = define_problem(
    "plugin-dependency",
    "Plugin dependency",
    409,
    "The change would leave an enabled plugin without a plugin it requires.",
)


class PluginState(BaseModel):
    name: str
    version: str
    description: str
    enabled: bool
    requires: list[str]


def _requirements(platform: Platform) -> dict[str, set[str]]:
    return {
        plugin.info.name: {Requirement(r).name for r in plugin.info.requires}
        for plugin in platform.plugins.plugins
        if not plugin.core
    }


def plugin_states(platform: Platform, disabled: set[str]) -> list[PluginState]:
    return [
        PluginState(
            name=plugin.info.name,
            version=plugin.info.version,
            description=plugin.info.description,
            enabled=plugin.info.name not in disabled,
            requires=sorted(Requirement(r).name for r in plugin.info.requires),
        )
        for plugin in platform.plugins.plugins
        if not plugin.core
    ]


def set_plugin_enabled(platform: Platform, tenant: Tenant, name: str, enabled: bool) -> PluginState:
    requirements = _requirements(platform)
    if name not in requirements:
        raise ProblemError(UNKNOWN_PLUGIN, f"no feature plugin named {name!r}")
    disabled = set(tenant.disabled_plugins or [])
    if enabled:
        missing = sorted(requirements[name] & disabled)
        if missing:
            raise ProblemError(
                PLUGIN_DEPENDENCY, f"enable {', '.join(missing)} first", requires=missing
            )
        disabled.discard(name)
    else:
        dependents = sorted(
            plugin
            for plugin, needs in requirements.items()
            if name in needs and plugin not in disabled
        )
        if dependents:
            raise ProblemError(
                PLUGIN_DEPENDENCY,
                f"disable {', '.join(dependents)} first: they need {name}",
                required_by=dependents,
            )
        disabled.add(name)
    tenant.disabled_plugins = sorted(disabled)
    state = {s.name: s for s in plugin_states(platform, disabled)}
    return state[name]
