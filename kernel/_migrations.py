"""One Alembic environment for the kernel and every loaded plugin's branch (``tenants``
contributes its own through ``kraliki_migrations``, as plugins do).

The environment (``env.py``, the script template) and the kernel's revisions are files in the
top-level ``migrations/`` directory, found by path beside the ``kernel`` package (in the
source tree and in an installed wheel alike), never imported: the kernel has no import of a
top-level ``migrations`` package."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from kernel._db import make_engine
from kernel._errors import PluginLoadError, UnknownRevisionError
from kernel._models import Base
from kernel._plugins import PluginSet
from kernel._rls_autogen import add_tenant_rls
from kernel._settings import Settings

MIGRATIONS_ROOT = Path(__file__).resolve().parent.parent / "migrations"
"""The Alembic script location: ``env.py``, ``script.py.mako`` and ``versions/kernel``."""
CORE_BRANCHES: dict[str, Path] = {
    "kernel": MIGRATIONS_ROOT / "versions" / "kernel",
}


def version_locations(plugins: PluginSet) -> dict[str, Path]:
    """Branch label -> directory, core branches first."""
    locations = dict(CORE_BRANCHES)
    for _name, source in plugins.migration_sources():
        locations[source.branch_label] = Path(source.directory)
    return locations


def alembic_config(plugins: PluginSet, connection: Connection | None = None) -> Config:
    _import_core_models()
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_ROOT))
    config.set_main_option("path_separator", "os")
    config.set_main_option(
        "version_locations",
        os.pathsep.join(str(p) for p in version_locations(plugins).values()),
    )
    config.attributes["connection"] = connection
    config.attributes["target_metadata"] = Base.metadata
    config.attributes["process_revision_directives"] = add_tenant_rls
    return config


def _import_core_models() -> None:
    # The core models live outside plugins; importing them puts them on the shared metadata.
    import kernel._events.models
    import kernel._idempotency.models
    import kernel._identity.models
    import kernel._jobs.models
    import kernel._operators
    import kernel._tenancy  # noqa: F401


def check_branches(plugins: PluginSet) -> None:
    """Each plugin's revisions must carry its own branch label, or upgrades go astray."""
    script = ScriptDirectory.from_config(alembic_config(plugins))
    for label, directory in version_locations(plugins).items():
        revisions = [
            rev
            for rev in script.walk_revisions()
            if rev.path and Path(rev.path).resolve().parent == directory.resolve()
        ]
        for revision in revisions:
            if label not in revision.branch_labels:
                raise PluginLoadError(
                    f"migration {revision.revision} in {directory} is not on branch {label!r}: "
                    f"give the first revision branch_labels = ({label!r},)"
                )


def head_revisions(plugins: PluginSet) -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config(plugins)).get_heads())


def pending_heads(plugins: PluginSet, current: set[str]) -> set[str]:
    """Heads not yet applied.

    A head that is only a dependency of an applied revision (e.g. a kernel revision a plugin
    branch depends on) is not stored in alembic_version, so ancestors count as applied.
    """
    script = ScriptDirectory.from_config(alembic_config(plugins))
    try:
        applied = {rev.revision for rev in script.iterate_revisions(tuple(current), "base") if rev}
    except (RevisionError, CommandError) as exc:
        raise UnknownRevisionError(
            f"the database is at {', '.join(sorted(current))}, which no loaded branch knows: "
            "load the plugin that owns it again (and downgrade its branch before removing it)"
        ) from exc
    return set(script.get_heads()) - applied


def _current(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


async def current_revisions(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return await connection.run_sync(_current)


def _owner_engine(settings: Settings) -> AsyncEngine:
    return make_engine(settings.owner_database_url, schema=settings.database_schema)


async def _run(settings: Settings, plugins: PluginSet, action: str, *args: Any) -> None:
    check_branches(plugins)
    engine = _owner_engine(settings)
    try:
        async with engine.begin() as connection:

            def run(sync_connection: Connection) -> None:
                config = alembic_config(plugins, sync_connection)
                getattr(command, action)(config, *args)

            await connection.run_sync(run)
    finally:
        await engine.dispose()


async def upgrade(settings: Settings, plugins: PluginSet, target: str = "heads") -> None:
    """Upgrade (as the owner role) to ``target``: every branch by default."""
    await _run(settings, plugins, "upgrade", target)


async def downgrade(settings: Settings, plugins: PluginSet, target: str) -> None:
    """Downgrade to ``target`` (``base`` removes every table, ``<label>@base`` one branch)."""
    await _run(settings, plugins, "downgrade", target)


async def create_revision(
    settings: Settings, plugins: PluginSet, *, branch: str, message: str, autogenerate: bool
) -> None:
    """Write a new revision file on ``branch`` (a plugin name, ``tenants`` or ``kernel``)."""
    locations = version_locations(plugins)
    if branch not in locations:
        raise PluginLoadError(f"no migration branch {branch!r}; known: {sorted(locations)}")
    script = ScriptDirectory.from_config(alembic_config(plugins))
    on_branch = [rev for rev in script.walk_revisions() if branch in rev.branch_labels]
    exists = bool(on_branch)
    options: dict[str, Any] = {
        "message": message,
        "autogenerate": autogenerate,
        "version_path": str(locations[branch]),
        # readable, ordered ids: <branch>_0001, <branch>_0002, ...
        "rev_id": f"{branch}_{len(on_branch) + 1:04d}",
    }
    if exists:
        options["head"] = f"{branch}@head"
    else:
        options.update(head="base", branch_label=branch, depends_on="kernel@head")
    engine = _owner_engine(settings)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(
                lambda sync: command.revision(alembic_config(plugins, sync), **options)
            )
    finally:
        await engine.dispose()
