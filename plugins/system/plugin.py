"""system: platform introspection for operators (installed plugins, their health)."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter

from kernel import Permission, PluginInfo, hookimpl
from kernel import __version__ as kernel_version


@hookimpl
def kraliki_plugin_info() -> PluginInfo:
    return PluginInfo(
        name="system",
        version=kernel_version,
        description="Platform introspection: loaded plugins, versions, hook failures.",
    )


@hookimpl
def kraliki_permissions() -> Sequence[Permission]:
    from plugins.system.api import READ_PLUGINS

    return [READ_PLUGINS]


@hookimpl
def kraliki_routes() -> Sequence[APIRouter]:
    from plugins.system.api import router

    return [router]
