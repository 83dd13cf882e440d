"""A typed async facade over pluggy: ordering, awaiting and error isolation.

Pluggy calls implementations synchronously, stops at the first exception and knows nothing
of asyncio. Here each implementation is called on its own so that a result or an error can
be attributed to the plugin that produced it.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

from kernel._errors import PluginConflictError, PluginError
from kernel._tenancy import tenant_scope

if TYPE_CHECKING:
    import click
    from fastapi import APIRouter

    from kernel._platform import Platform
    from kernel._types import MigrationSource, Permission, PluginInfo

logger = logging.getLogger("kraliki.hooks")


class HookCallError(PluginError):
    """A registration or ``first`` hook raised: names the plugin and the hook."""

    def __init__(self, plugin: str, hook: str, error: BaseException) -> None:
        self.plugin = plugin
        self.hook = hook
        super().__init__(f"plugin {plugin!r} failed in {hook}: {type(error).__name__}: {error}")


class Hooks:
    """Calls hooks in plugin dependency order; one typed method per kernel hook."""

    def __init__(self, manager: pluggy.PluginManager, order: Sequence[str], names: dict[str, str]):
        # ``names`` maps pluggy's registration name to the plugin's declared name.
        self._manager = manager
        self._rank = {name: index for index, name in enumerate(order)}
        self._names = names
        self.failures: Counter[tuple[str, str]] = Counter()
        self.on_failure: Callable[[str, str], None] | None = None
        """Called with (plugin, hook) after each isolated failure; the platform points it at
        its metrics, so this module stays free of any metrics library."""
        self._cache: dict[str, tuple[int, list[tuple[str, Any, list[str]]]]] = {}

    def _implementations(self, hook_name: str) -> list[tuple[str, Any, list[str]]]:
        """(plugin, function, argument names) in dependency order, cached per hook.

        Hot path (every event fans out through ``notify``): the sorted list is rebuilt only
        when the set of implementations changes.
        """
        caller = getattr(self._manager.hook, hook_name, None)
        if caller is None:
            raise PluginError(f"no hook named {hook_name!r} is declared")
        impls = caller.get_hookimpls()
        cached = self._cache.get(hook_name)
        if cached is not None and cached[0] == len(impls):
            return cached[1]
        found = []
        for impl in impls:
            plugin = self._names.get(impl.plugin_name, impl.plugin_name)
            found.append((plugin, impl.function, list(impl.argnames)))
        found.sort(key=lambda item: self._rank.get(item[0], len(self._rank)))
        self._cache[hook_name] = (len(impls), found)
        return found

    def implementers(self, hook_name: str) -> list[str]:
        return [plugin for plugin, _, _ in self._implementations(hook_name)]

    @staticmethod
    def _arguments(argnames: list[str], kwargs: dict[str, Any], hook: str) -> dict[str, Any]:
        try:
            return {name: kwargs[name] for name in argnames}
        except KeyError as exc:
            raise PluginError(f"{hook} was called without argument {exc}") from None

    def collect_now(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call a synchronous registration hook: (plugin, result) pairs, None skipped.

        An exception stops everything, naming the plugin: a half-registered plugin is worse
        than a platform that refuses to start.
        """
        results = []
        for plugin, function, argnames in self._implementations(hook_name):
            try:
                result = function(**self._arguments(argnames, kwargs, hook_name))
            except PluginError:
                raise
            except Exception as exc:
                raise HookCallError(plugin, hook_name, exc) from exc
            if inspect.isawaitable(result):
                close = getattr(result, "close", None)
                if close is not None:
                    close()
                raise HookCallError(
                    plugin, hook_name, TypeError("registration hooks must be synchronous")
                )
            if result is not None:
                results.append((plugin, result))
        return results

    async def collect(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call every implementation, awaiting awaitables; errors propagate (named)."""
        results = []
        for plugin, function, argnames in self._implementations(hook_name):
            try:
                result = function(**self._arguments(argnames, kwargs, hook_name))
                if inspect.isawaitable(result):
                    result = await result
            except Exception as exc:
                raise HookCallError(plugin, hook_name, exc) from exc
            if result is not None:
                results.append((plugin, result))
        return results

    async def first(self, hook_name: str, **kwargs: Any) -> Any:
        """``firstresult`` semantics: the first non-None result; an exception fails loudly."""
        for plugin, function, argnames in self._implementations(hook_name):
            try:
                result = function(**self._arguments(argnames, kwargs, hook_name))
                if inspect.isawaitable(result):
                    result = await result
            except Exception as exc:
                raise HookCallError(plugin, hook_name, exc) from exc
            if result is not None:
                return result
        return None

    async def notify(
        self,
        hook_name: str,
        *,
        reverse: bool = False,
        skip: Collection[str] = (),
        **kwargs: Any,
    ) -> None:
        """Tell every plugin; one plugin's exception is logged and counted, never raised.

        ``skip`` names plugins not to call (those a tenant disabled, for tenant events).
        """
        implementations = self._implementations(hook_name)
        for plugin, function, argnames in reversed(implementations) if reverse else implementations:
            if plugin in skip:
                continue
            arguments = self._arguments(argnames, kwargs, hook_name)  # a caller bug raises
            try:
                result = function(**arguments)
                if result is not None and inspect.isawaitable(result):
                    await result
            except Exception:
                self._failed(plugin, hook_name)

    async def collect_isolated(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """``collect`` for hooks whose answers are extras (links shown beside a call): an
        implementation that raises is logged and counted as ``notify`` does and left out,
        the others' answers are returned."""
        results = []
        for plugin, function, argnames in self._implementations(hook_name):
            arguments = self._arguments(argnames, kwargs, hook_name)  # a caller bug raises
            try:
                result = function(**arguments)
                if inspect.isawaitable(result):
                    result = await result
            except Exception:
                self._failed(plugin, hook_name)
                continue
            if result is not None:
                results.append((plugin, result))
        return results

    def _failed(self, plugin: str, hook_name: str) -> None:
        """Log (with the traceback) and count an isolated failure."""
        self.failures[(plugin, hook_name)] += 1
        if self.on_failure is not None:
            self.on_failure(plugin, hook_name)
        logger.exception(
            "plugin %r failed in %s; the other plugins go on",
            plugin,
            hook_name,
            extra={"plugin": plugin, "hook": hook_name},
        )

    # Typed entry points for the kernel's own hooks.

    def plugin_info(self) -> list[tuple[str, PluginInfo]]:
        return self.collect_now("kraliki_plugin_info")

    def routes(self) -> list[tuple[str, Sequence[APIRouter]]]:
        return self.collect_now("kraliki_routes")

    def webhook_routes(self) -> list[tuple[str, Sequence[APIRouter]]]:
        return self.collect_now("kraliki_webhook_routes")

    def models(self) -> list[tuple[str, Sequence[type]]]:
        return self.collect_now("kraliki_models")

    def migrations(self) -> list[tuple[str, MigrationSource | str]]:
        return self.collect_now("kraliki_migrations")

    def permissions(self) -> list[tuple[str, Sequence[Permission]]]:
        return self.collect_now("kraliki_permissions")

    def configure(self, platform: Platform) -> None:
        self.collect_now("kraliki_configure", platform=platform)

    def cli(self, cli: click.Group) -> None:
        """Let each plugin add subcommands; replacing someone else's command is a conflict."""
        owners = {name: "kernel" for name in cli.commands}
        for plugin, function, argnames in self._implementations("kraliki_cli"):
            snapshot = dict(cli.commands)
            try:
                result = function(**self._arguments(argnames, {"cli": cli}, "kraliki_cli"))
            except Exception as exc:
                raise HookCallError(plugin, "kraliki_cli", exc) from exc
            if inspect.isawaitable(result):
                getattr(result, "close", lambda: None)()
                raise HookCallError(
                    plugin, "kraliki_cli", TypeError("registration hooks must be synchronous")
                )
            for name, command in list(cli.commands.items()):
                if name in snapshot and snapshot[name] is not command:
                    cli.commands[name] = snapshot[name]  # never leave the impostor in place
                    raise PluginConflictError("CLI command", name, owners[name], plugin)
                owners.setdefault(name, plugin)

    async def startup(self, platform: Platform) -> None:
        await self.notify("kraliki_startup", platform=platform)

    async def shutdown(self, platform: Platform) -> None:
        await self.notify("kraliki_shutdown", reverse=True, platform=platform)

    async def tenant_created(self, platform: Platform, tenant_id: uuid.UUID) -> None:
        with tenant_scope(tenant_id):
            await self.notify("kraliki_tenant_created", platform=platform, tenant_id=tenant_id)

    async def tenant_deleted(self, platform: Platform, tenant_id: uuid.UUID) -> None:
        with tenant_scope(tenant_id):
            await self.notify(
                "kraliki_tenant_deleted", reverse=True, platform=platform, tenant_id=tenant_id
            )
