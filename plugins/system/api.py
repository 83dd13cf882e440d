"""Routes of the system plugin (thin: the data is the platform's own)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from kernel import Permission, PlatformDep, Principal, __version__, require
from plugins.system.schemas import PluginList, PluginOut

READ_PLUGINS = Permission(
    "system.plugins",
    "read",
    "List the loaded plugins, their versions and hook failures.",
    scope="platform",
)

router = APIRouter()


@router.get("/plugins", response_model=PluginList, summary="List the loaded plugins")
async def list_plugins(
    platform: PlatformDep,
    _principal: Annotated[Principal, Depends(require(READ_PLUGINS.resource, READ_PLUGINS.action))],
) -> PluginList:
    failures = platform.hooks.failures
    return PluginList(
        kernel_version=__version__,
        plugins=[
            PluginOut(
                name=plugin.info.name,
                version=plugin.info.version,
                description=plugin.info.description,
                requires=list(plugin.info.requires),
                route_prefix=plugin.info.prefix,
                core=plugin.core,
                permissions=[p.key for p in plugin.permissions],
                distribution=plugin.distribution,
                hook_failures={
                    hook: count
                    for (name, hook), count in sorted(failures.items())
                    if name == plugin.info.name
                },
            )
            for plugin in platform.plugins.plugins
        ],
    )
