"""Finding, validating and ordering plugins (entry points or objects handed in)."""

from __future__ import annotations

import graphlib
import importlib.metadata
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy
from packaging.version import Version

from kernel import hookspecs
from kernel._errors import (
    MissingRequirementError,
    PluginConflictError,
    PluginError,
    PluginLoadError,
)
from kernel._hooks import Hooks
from kernel._identity.permissions import KERNEL_PERMISSIONS
from kernel._markers import CORE_ENTRY_POINT_GROUP, ENTRY_POINT_GROUP, PROJECT_NAME
from kernel._models import Base
from kernel._registry import UniqueRegistry
from kernel._types import MigrationSource, Permission, PluginInfo

logger = logging.getLogger("kraliki.plugins")

# URL segments under /api/v1 that the kernel and tenants/ own (now or in their roadmap).
RESERVED_PREFIXES = frozenset(
    {
        "auth",
        "users",
        "api-keys",
        "roles",
        "audit",
        "tenant",
        "tenants",
        "vault",
        "resilience",
        "realtime",
        "permissions",
        "plugins",
        "problems",
        "health",
        "meta",
    }
)


@dataclass(frozen=True, slots=True)
class PluginSource:
    """A plugin object to load, with where it came from (for error messages and listings)."""

    obj: Any
    entry_point: str | None = None
    distribution: str | None = None
    core: bool = False
    """A core component (``kraliki.core`` group, e.g. ``tenants``): always loaded, mounted at
    ``/api/v1`` itself, may use reserved prefixes, cannot be disabled per tenant."""


@dataclass
class LoadedPlugin:
    info: PluginInfo
    obj: Any
    distribution: str | None
    core: bool = False
    permissions: list[Permission] = field(default_factory=list)
    models: list[type] = field(default_factory=list)
    migrations: MigrationSource | None = None


@dataclass
class PluginSet:
    """The loaded plugins in dependency order, with their hooks and registries."""

    manager: pluggy.PluginManager
    plugins: list[LoadedPlugin]
    hooks: Hooks
    permissions: UniqueRegistry[Permission]

    def names(self) -> list[str]:
        return [plugin.info.name for plugin in self.plugins]

    def get(self, name: str) -> LoadedPlugin:
        for plugin in self.plugins:
            if plugin.info.name == name:
                return plugin
        raise KeyError(name)

    def transitive_requirements(self) -> dict[str, set[str]]:
        """Each plugin's requirements, direct and indirect."""
        requires = {p.info.name: {r.name for r in p.info.parsed_requires()} for p in self.plugins}
        closure: dict[str, set[str]] = {}
        for name in requires:
            seen: set[str] = set()
            stack = list(requires[name])
            while stack:
                current = stack.pop()
                if current not in seen:
                    seen.add(current)
                    stack.extend(requires.get(current, ()))
            closure[name] = seen
        return closure

    def migration_sources(self) -> list[tuple[str, MigrationSource]]:
        return [(p.info.name, p.migrations) for p in self.plugins if p.migrations is not None]


def installed_plugins(group: str = ENTRY_POINT_GROUP) -> list[PluginSource]:
    """Every plugin installed in this environment, from the ``kraliki.plugins`` group."""
    sources: dict[str, PluginSource] = {}
    for entry_point in importlib.metadata.entry_points(group=group):
        dist = entry_point.dist
        dist_name = f"{dist.metadata['Name']} {dist.version}" if dist is not None else None
        if entry_point.name in sources:
            previous = sources[entry_point.name].distribution or "?"
            if previous == dist_name:
                continue  # the same distribution seen twice on sys.path
            raise PluginConflictError("plugin", entry_point.name, previous, dist_name or "?")
        try:
            obj = entry_point.load()
        except Exception as exc:
            raise PluginLoadError(
                f"plugin {entry_point.name!r} ({entry_point.value}, from {dist_name}) "
                f"failed to import: {type(exc).__name__}: {exc}"
            ) from exc
        sources[entry_point.name] = PluginSource(
            obj, entry_point.name, dist_name, core=group == CORE_ENTRY_POINT_GROUP
        )
    return list(sources.values())


def installed_plugin(name: str) -> object:
    """The installed plugin ``name`` (its entry point's object), whatever ``KRALIKI_PLUGINS``
    says: for a test that needs a plugin its own requires (``calls`` for a provider)."""
    for source in installed_plugins():
        if source.entry_point == name:
            return source.obj
    raise LookupError(f"no plugin {name!r} is installed (entry point group {ENTRY_POINT_GROUP})")


def core_components() -> list[PluginSource]:
    """The platform's core components (``kraliki.core`` group): loaded whatever
    ``KRALIKI_PLUGINS`` says, before every plugin."""
    return installed_plugins(CORE_ENTRY_POINT_GROUP)


def select_plugins(
    available: Sequence[PluginSource], allowlist: Sequence[str] | None
) -> list[PluginSource]:
    """Apply ``KRALIKI_PLUGINS``: only the named plugins load; unknown names are errors."""
    if allowlist is None:
        return list(available)
    by_name = {source.entry_point: source for source in available}
    unknown = [name for name in allowlist if name not in by_name]
    if unknown:
        raise PluginLoadError(
            f"KRALIKI_PLUGINS names {', '.join(map(repr, unknown))}, which "
            f"{'is' if len(unknown) == 1 else 'are'} not installed "
            f"(installed: {', '.join(sorted(n for n in by_name if n)) or 'none'})"
        )
    return [by_name[name] for name in dict.fromkeys(allowlist)]


def load_plugins(
    sources: Sequence[PluginSource],
    *,
    installed: Iterable[str] = (),
) -> PluginSet:
    """Register, describe, validate and order plugins; raise :class:`PluginError` on a flaw.

    ``installed`` names plugins that exist but were not selected, so that a missing
    requirement can say whether to install it or to add it to ``KRALIKI_PLUGINS``.
    """
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    registered: dict[str, PluginSource] = {}
    for source in sources:
        try:
            pluggy_name = manager.register(source.obj, name=source.entry_point)
        except ValueError as exc:
            name = source.entry_point or manager.get_canonical_name(source.obj)
            first = registered.get(name)
            raise PluginConflictError(
                "plugin",
                name,
                (first.distribution if first else None) or "the first registration",
                source.distribution or "a second registration",
            ) from exc
        except pluggy.PluginValidationError as exc:
            raise PluginLoadError(f"plugin {source.entry_point!r} is invalid: {exc}") from exc
        assert pluggy_name is not None
        registered[pluggy_name] = source

    names = {pluggy_name: pluggy_name for pluggy_name in registered}
    hooks = Hooks(manager, order=[], names=names)
    infos = _describe(hooks, registered)
    names.update({pluggy_name: info.name for pluggy_name, info in infos.items()})
    by_name = {info.name: (pluggy_name, info) for pluggy_name, info in infos.items()}

    _check_requirements(by_name, set(installed))
    order = _dependency_order(by_name)
    hooks = Hooks(manager, order=order, names=names)

    for _, spec in hooks.collect_now("kraliki_add_hookspecs"):
        for namespace in spec if isinstance(spec, list | tuple) else [spec]:
            manager.add_hookspecs(namespace)
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginLoadError(f"unknown hook implemented: {exc}") from exc

    plugins = [
        LoadedPlugin(
            info=by_name[name][1],
            obj=registered[by_name[name][0]].obj,
            distribution=registered[by_name[name][0]].distribution,
            core=registered[by_name[name][0]].core,
        )
        for name in order
    ]
    _check_prefixes(plugins)
    permissions = UniqueRegistry[Permission]("permission")
    for permission in KERNEL_PERMISSIONS:
        permissions.register(permission.key, permission, plugin="kernel")
    loaded = {plugin.info.name: plugin for plugin in plugins}
    for plugin_name, declared in hooks.permissions():
        for permission in declared:
            permissions.register(permission.key, permission, plugin=plugin_name)
            loaded[plugin_name].permissions.append(permission)
    for plugin_name, models in hooks.models():
        for model in models:
            if not (isinstance(model, type) and issubclass(model, Base)):
                raise PluginLoadError(
                    f"plugin {plugin_name!r}: kraliki_models returned {model!r}, "
                    "which is not a subclass of kernel.Base"
                )
            loaded[plugin_name].models.append(model)
    for plugin_name, location in hooks.migrations():
        loaded[plugin_name].migrations = _migration_source(plugin_name, location)
    return PluginSet(manager=manager, plugins=plugins, hooks=hooks, permissions=permissions)


def describe_source(source: PluginSource) -> tuple[PluginInfo, list[Permission]]:
    """A plugin's info and permissions without loading it with the others."""
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    name = manager.register(source.obj, name=source.entry_point)
    assert name is not None
    hooks = Hooks(manager, order=[name], names={name: name})
    infos = _describe(hooks, {name: source})
    permissions = [p for _, declared in hooks.permissions() for p in declared]
    return infos[name], permissions


def _describe(hooks: Hooks, registered: dict[str, PluginSource]) -> dict[str, PluginInfo]:
    infos: dict[str, PluginInfo] = {}
    for pluggy_name, info in hooks.collect_now("kraliki_plugin_info"):
        if not isinstance(info, PluginInfo):
            raise PluginLoadError(
                f"plugin {pluggy_name!r}: kraliki_plugin_info must return kernel.PluginInfo"
            )
        infos[pluggy_name] = info
    for pluggy_name, source in registered.items():
        if pluggy_name not in infos:
            raise PluginLoadError(
                f"plugin {source.entry_point or pluggy_name!r} does not implement "
                "kraliki_plugin_info (every plugin must say its name and version)"
            )
        info = infos[pluggy_name]
        if source.entry_point is not None and source.entry_point != info.name:
            raise PluginLoadError(
                f"entry point {source.entry_point!r} loads a plugin that calls itself "
                f"{info.name!r}; the two names must match"
            )
    seen: dict[str, str] = {}
    for pluggy_name, info in infos.items():
        if info.name in seen:
            raise PluginConflictError("plugin", info.name, seen[info.name], pluggy_name)
        seen[info.name] = pluggy_name
    return infos


def _check_requirements(by_name: dict[str, tuple[str, PluginInfo]], installed: set[str]) -> None:
    for name, (_, info) in by_name.items():
        for requirement in info.parsed_requires():
            if requirement.name not in by_name:
                reason = (
                    "which is installed but not listed in KRALIKI_PLUGINS"
                    if requirement.name in installed
                    else "which is not installed"
                )
                raise MissingRequirementError(name, str(requirement), reason)
            version = by_name[requirement.name][1].version
            if not requirement.specifier.contains(Version(version), prereleases=True):
                raise MissingRequirementError(
                    name, str(requirement), f"but {requirement.name} {version} is loaded"
                )


def _dependency_order(by_name: dict[str, tuple[str, PluginInfo]]) -> list[str]:
    graph = {name: {r.name for r in info.parsed_requires()} for name, (_, info) in by_name.items()}
    sorter = graphlib.TopologicalSorter(graph)
    try:
        # Sorted within each layer so the order does not depend on discovery order.
        sorter.prepare()
        order: list[str] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready())
            order.extend(ready)
            sorter.done(*ready)
    except graphlib.CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        raise PluginError(f"plugins require each other in a cycle: {cycle}") from exc
    return order


def _check_prefixes(plugins: list[LoadedPlugin]) -> None:
    prefixes = UniqueRegistry[None]("route prefix")
    for reserved in sorted(RESERVED_PREFIXES):
        prefixes.register(reserved, None, plugin="kernel")
    for plugin in plugins:
        if not plugin.core:  # core components mount at /api/v1 and own reserved prefixes
            prefixes.register(plugin.info.prefix, None, plugin=plugin.info.name)


def _migration_source(plugin: str, location: object) -> MigrationSource:
    if isinstance(location, MigrationSource):
        source = location
    elif isinstance(location, str | Path):
        source = MigrationSource(Path(location))
    else:
        raise PluginLoadError(f"plugin {plugin!r}: kraliki_migrations returned {location!r}")
    directory = Path(source.directory).resolve()
    if not directory.is_dir():
        raise PluginLoadError(f"plugin {plugin!r}: migrations directory {directory} is missing")
    return MigrationSource(directory, source.branch_label or plugin)
