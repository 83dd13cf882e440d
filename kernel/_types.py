"""Value types a plugin hands to the kernel through hooks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_PERMISSION_PART_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,62}$")


class PluginDefinitionError(ValueError):
    """A plugin handed the kernel a value that cannot be right (bad name, version...)."""


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """Who a plugin is: returned by ``kraliki_plugin_info``.

    ``requires`` holds plugin names, optionally with a PEP 440 version specifier
    (``"calls"``, ``"calls>=0.2"``). ``route_prefix`` defaults to the name with ``_`` -> ``-``;
    the plugin's routers are mounted under ``/api/v1/<route_prefix>``.
    """

    name: str
    version: str
    requires: tuple[str, ...] = ()
    description: str = ""
    route_prefix: str | None = None

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name):
            raise PluginDefinitionError(
                f"plugin name {self.name!r} must match {_NAME_RE.pattern} "
                "(lower case, digits and underscores)"
            )
        try:
            Version(self.version)
        except InvalidVersion as exc:
            raise PluginDefinitionError(
                f"plugin {self.name!r}: version {self.version!r} is not a PEP 440 version"
            ) from exc
        for requirement in self.requires:
            try:
                Requirement(requirement)
            except InvalidRequirement as exc:
                raise PluginDefinitionError(
                    f"plugin {self.name!r}: requirement {requirement!r} is not valid: {exc}"
                ) from exc

    @property
    def prefix(self) -> str:
        """The URL segment under ``/api/v1`` that this plugin's routes live in."""
        return self.route_prefix or self.name.replace("_", "-")

    def parsed_requires(self) -> list[Requirement]:
        return [Requirement(r) for r in self.requires]


BUILTIN_ROLES: tuple[str, ...] = ("owner", "admin", "supervisor", "agent", "integrator")
"""Roles every tenant has. ``owner`` holds every tenant permission; the others hold what
plugins grant them through ``Permission.default_roles``."""

PermissionScope = Literal["tenant", "platform"]


@dataclass(frozen=True, slots=True)
class Permission:
    """A permission a plugin (or the kernel) declares: ``<resource>:<action>``.

    ``scope="tenant"`` (the default) permissions are granted to tenant roles;
    ``default_roles`` names the built-in roles that hold it in every tenant (``owner`` holds
    every tenant permission anyway). ``scope="platform"`` permissions belong to platform
    operators only and can never be granted to a tenant role.
    """

    resource: str
    action: str
    description: str
    default_roles: tuple[str, ...] = ()
    scope: PermissionScope = "tenant"

    def __post_init__(self) -> None:
        for part in (self.resource, self.action):
            if not _PERMISSION_PART_RE.match(part):
                raise PluginDefinitionError(
                    f"permission part {part!r} must match {_PERMISSION_PART_RE.pattern}"
                )
        unknown = [role for role in self.default_roles if role not in BUILTIN_ROLES]
        if unknown:
            raise PluginDefinitionError(
                f"permission {self.key!r}: default_roles {unknown} are not built-in roles "
                f"({', '.join(BUILTIN_ROLES)})"
            )
        if self.scope == "platform" and self.default_roles:
            raise PluginDefinitionError(
                f"permission {self.key!r} is platform-scoped: tenant roles cannot hold it"
            )

    @property
    def key(self) -> str:
        return f"{self.resource}:{self.action}"


@dataclass(frozen=True, slots=True)
class MigrationSource:
    """Where a plugin's Alembic revisions live; returned by ``kraliki_migrations``.

    Every revision in ``directory`` belongs to the branch labelled with the plugin's name: the
    first one declares ``branch_labels = ("<plugin>",)`` and ``depends_on`` the kernel revision
    it needs.
    """

    directory: Path
    branch_label: str = field(default="")
