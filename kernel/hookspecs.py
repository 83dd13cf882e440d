"""The hooks a Kraliki plugin can implement: the whole plugin contract in one module.

Conventions (see ``docs/plugins/hooks.md`` for the long form):

* Every hook name starts with ``kraliki_``. Implement a hook by decorating a function of the
  same name with :data:`kernel.hookimpl` in your plugin module; declare only the parameters
  you use (pluggy passes arguments by name).
* *Registration* hooks (``plugin_info``, ``add_hookspecs``, ``models``, ``migrations``,
  ``permissions``, ``configure``, ``routes``, ``webhook_routes``, ``cli``, ``event_types``,
  ``jobs``) run once while the platform starts. They are synchronous; an exception in one
  stops the platform with an error naming your plugin.
* *Notification* hooks (``startup``, ``shutdown``, ``event``, ``tenant_*``) may be
  ``async def``. An exception in one is logged with your plugin's name and counted; it never
  stops other plugins or the caller.
* Implementations run in dependency order: a plugin's requirements run before it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from kernel._markers import hookspec

if TYPE_CHECKING:
    import click
    from fastapi import APIRouter

    from kernel._events.types import DeliveredEvent, Event
    from kernel._jobs.service import JobTopic
    from kernel._platform import Platform
    from kernel._settings import Settings
    from kernel._types import MigrationSource, Permission, PluginInfo
    from kernel._vault.declarations import SecretSpec
    from kernel._vault.keys import KeyProvider


@hookspec
def kraliki_plugin_info() -> PluginInfo:  # type: ignore[empty-body]
    """Describe the plugin: name, version, requirements (required of every plugin).

    Called once, first, when the plugin is loaded. Return a :class:`kernel.PluginInfo`. The
    name must equal the plugin's entry-point name in the ``kraliki.plugins`` group.
    """


@hookspec
def kraliki_add_hookspecs() -> ModuleType | type | Sequence[ModuleType | type]:  # type: ignore[empty-body]
    """Add the plugin's own hookspecs, so other plugins can extend it.

    Called once, right after every plugin is registered and before any other hook. Return a
    module or class (or several) whose functions are marked with :data:`kernel.hookspec`;
    call them through ``platform.hooks`` (``collect``, ``notify`` or ``first``).
    """


@hookspec
def kraliki_configure(platform: Platform) -> None:
    """Set up per-platform state, e.g. fill a registry from the plugin's own hooks.

    Called once per platform (app, CLI, worker), after every plugin is loaded and before
    routes are mounted, in dependency order. Synchronous. Keep what you build under a
    :class:`kernel.StateKey` named after your plugin. An exception (for instance a
    :class:`kernel.PluginConflictError` from a :class:`kernel.UniqueRegistry`) stops the
    platform with an error naming your plugin.
    """


@hookspec
def kraliki_routes() -> Sequence[APIRouter]:  # type: ignore[empty-body]
    """Return the plugin's FastAPI routers.

    Called once while the app is built. Each router is mounted under
    ``/api/v1/<route_prefix>`` and tagged with the plugin's name in OpenAPI. Every route
    must declare its permission with ``Depends(require(resource, action))`` for a permission
    declared by this plugin, one of its requirements or the kernel, or be marked
    ``public(...)``; otherwise the app refuses to start.
    """


@hookspec
def kraliki_webhook_routes() -> Sequence[APIRouter]:  # type: ignore[empty-body]
    """Return routers for unauthenticated callbacks from outside services (provider webhooks).

    Called once while the app is built. Each router is mounted under
    ``/webhooks/<route_prefix>`` (not ``/api/v1``) and tagged with the plugin's name. Every
    route must be marked ``Depends(public("why"))``: there is no caller to authorize, so the
    plugin verifies each request itself (a signature with the tenant's secret) before it
    changes anything. A tenant that disabled the plugin must get 404.
    """


@hookspec
def kraliki_models() -> Sequence[type]:  # type: ignore[empty-body]
    """Return the plugin's SQLAlchemy model classes.

    Called once at load time. The models must subclass :class:`kernel.Base` (the shared
    metadata); returning them guarantees they are imported before migrations and queries run.
    """


@hookspec
def kraliki_migrations() -> MigrationSource | Path | str:  # type: ignore[empty-body]
    """Return the directory holding the plugin's Alembic revisions.

    Called once when the plugin is loaded (the directory must exist). Its revisions form the
    branch labelled with the plugin's name; ``kraliki migrate`` upgrades every loaded branch.
    """


@hookspec
def kraliki_permissions() -> Sequence[Permission]:  # type: ignore[empty-body]
    """Declare the permissions the plugin's routes and actions check.

    Called once at load time. Return :class:`kernel.Permission` values (resource, action,
    description, default roles). A permission declared by two plugins stops the platform.
    """


@hookspec
def kraliki_vault_secrets() -> Sequence[SecretSpec]:  # type: ignore[empty-body]
    """Declare the tenant secrets the plugin reads from the vault.

    Called once when the platform is built. Return :class:`kernel.SecretSpec` values named
    ``<plugin>.<key>`` (e.g. ``twilio.auth_token``), each optionally with a format
    ``pattern`` and an async ``validator`` that tests a stored key against the provider
    (``POST /api/v1/vault/secrets/{name}/validate``). Tenants can store only declared names;
    a plugin reads its own secrets and those of the plugins it requires.
    """


@hookspec
def kraliki_vault_key_provider(settings: Settings) -> KeyProvider | None:
    """Supply the vault's key-encryption key holder (AWS KMS, Vault transit, an HSM).

    Called once, on the vault's first use, in a worker thread (it may block while it
    connects). Return an object with ``name``, ``current_kek_id()``, ``wrap(data_key,
    context)`` and ``unwrap(wrapped, context)`` (see :class:`kernel.KeyProvider`), or None to
    leave the default (``KRALIKI_MASTER_KEY`` or the key file). Two plugins returning one
    stop the platform.
    """


@hookspec
def kraliki_cli(cli: click.Group) -> None:
    """Add subcommands to the ``kraliki`` command line.

    Called once when the CLI starts, with the root :class:`click.Group`; call
    ``cli.add_command(...)``. A name another plugin (or the kernel) already uses stops the CLI.
    """


@hookspec
def kraliki_startup(platform: Platform) -> Any:
    """The platform is starting: open clients, start background tasks.

    Called once per process when the app's lifespan starts, after the database engine exists,
    in dependency order. May be ``async``. An exception is logged and counted; the platform
    still starts.
    """


@hookspec
def kraliki_shutdown(platform: Platform) -> Any:
    """The platform is stopping: close what ``kraliki_startup`` opened.

    Called once per process when the lifespan ends, in reverse dependency order. May be
    ``async``. An exception is logged and counted; the other plugins still shut down.
    """


@hookspec
def kraliki_tenant_created(platform: Platform, tenant_id: uuid.UUID) -> Any:
    """A tenant was created (and committed): seed this plugin's defaults for it.

    Called once per new tenant, in dependency order, inside ``kernel.tenant_scope(tenant_id)``;
    open sessions with ``platform.database.session()``. May be ``async``. An exception is
    logged and counted; the tenant exists regardless.
    """


@hookspec
def kraliki_tenant_deleted(platform: Platform, tenant_id: uuid.UUID) -> Any:
    """A tenant is being purged: release what this plugin holds for it outside the database
    (provider numbers, files, remote subscriptions).

    Called once, in reverse dependency order, inside ``kernel.tenant_scope(tenant_id)`` while
    the tenant's rows still exist; right after, the tenant row is deleted and every
    tenant-owned row goes with it (foreign keys cascade). May be ``async``. An exception is
    logged and counted; the purge goes on.
    """


@hookspec
def kraliki_event_types() -> Sequence[type[Event]]:  # type: ignore[empty-body]
    """Declare the domain events the plugin publishes.

    Called once when the platform is built. Return :class:`kernel.Event` subclasses named
    ``<plugin>.<noun>.<verb>`` (the plugin's own name first), each with the ``permission`` a
    real-time subscriber needs to receive it. Only declared events can be published; the
    catalogue in ``docs/events.md`` is generated from these declarations.
    """


@hookspec
def kraliki_event(platform: Platform, event: DeliveredEvent) -> Any:
    """A committed domain event of a tenant, delivered by the dispatcher.

    Called for every event, in publication order per aggregate, inside
    ``kernel.tenant_scope(event.tenant_id)``, skipping plugins the tenant disabled. Delivery
    is at least once: make your effect idempotent, keyed by ``event.id``. May be ``async``;
    keep it short (hand slow work to a job). Hooks run behind the real-time stream, at their
    own pace: a slow hook delays the tenant's later hook calls, never real-time subscribers.
    An exception is logged and counted; the event still counts as delivered to the other
    plugins. A plugin doing database work per event implements ``kraliki_events`` instead.
    """


@hookspec
def kraliki_events(platform: Platform, events: Sequence[DeliveredEvent]) -> Any:
    """A batch of one tenant's committed domain events, delivered by the dispatcher.

    The batch form of ``kraliki_event`` for plugins that do database work per event: one
    call per batch (up to ``KRALIKI_EVENTS_BATCH_SIZE`` events, in dispatch order, which
    keeps publication order per aggregate), inside ``kernel.tenant_scope`` of their tenant,
    skipping plugins the tenant disabled; before the batch's ``kraliki_event`` calls.
    Delivery is at least once: key your effect by ``event.id``. May be ``async``. An
    exception is logged and counted; the batch still counts as delivered to the others.
    """


@hookspec
def kraliki_jobs() -> Sequence[JobTopic]:  # type: ignore[empty-body]
    """Declare per-tenant background work the plugin runs (deliveries, retention, pacing).

    Called once when the platform is built. Return :class:`kernel.JobTopic` values named
    ``<plugin>.<job>``; wake one with ``await platform.jobs.wake(session, topic, at=...)``
    in the transaction that creates the work. A worker then calls the handler inside the
    tenant's scope, one worker per (topic, tenant) at a time.
    """
