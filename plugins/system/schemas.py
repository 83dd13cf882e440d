"""Response bodies of the system plugin."""

from __future__ import annotations

from pydantic import BaseModel, Field


class PluginOut(BaseModel):
    name: str
    version: str
    description: str
    requires: list[str]
    route_prefix: str = Field(description="Routes live under /api/v1/<route_prefix>.")
    core: bool = Field(
        description="A core component (always loaded, mounted at /api/v1, never disabled)."
    )
    permissions: list[str]
    distribution: str | None = Field(description="The installed package that ships it.")
    hook_failures: dict[str, int] = Field(
        description="Notification hook failures since this process started, by hook."
    )


class PluginList(BaseModel):
    kernel_version: str
    plugins: list[PluginOut]
