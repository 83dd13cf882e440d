"""The running platform: settings, database and plugins, shared by app, CLI and workers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import Request
from sqlalchemy import select

from kernel._background import BackgroundWorkers
from kernel._db import Database, make_engine
from kernel._events.bus import EventBus, build_catalog
from kernel._events.dispatcher import Dispatcher
from kernel._events.transport import EventTransport, build_transport
from kernel._hooks import Hooks
from kernel._idempotency.service import Idempotency
from kernel._identity.service import Identity
from kernel._identity.throttle import FailureThrottle
from kernel._jobs.service import Jobs, build_topics
from kernel._metrics import Metrics
from kernel._observability.connections import watch_connections
from kernel._observability.tracing import (
    Tracing,
    build_tracing,
    instrument_engine,
    instrument_http_client,
)
from kernel._plugins import (
    PluginSet,
    PluginSource,
    core_components,
    installed_plugins,
    load_plugins,
    select_plugins,
)
from kernel._registry import UniqueRegistry
from kernel._resilience.helper import Resilience
from kernel._settings import Settings
from kernel._shared.limits import AsyncAttemptThrottle
from kernel._shared.store import SharedStore
from kernel._tenancy import Tenant, tenant_scope
from kernel._types import Permission
from kernel._vault.service import Vault

if TYPE_CHECKING:
    from kernel._realtime.hub import Hub


@dataclass
class Platform:
    """What a plugin receives in ``kraliki_startup``/``kraliki_shutdown`` and can reach from a
    request through :data:`kernel.PlatformDep`."""

    settings: Settings
    database: Database
    plugins: PluginSet
    state: dict[str, Any] = field(default_factory=dict)
    """Per-platform objects plugins build in ``kraliki_configure``, keyed by plugin name."""
    metrics: Metrics = field(default_factory=Metrics)
    """Prometheus metrics of this platform (rendered at ``/metrics``)."""
    tracing: Tracing = field(default_factory=build_tracing)
    """This platform's OpenTelemetry provider and exporter (kernel-internal)."""
    _checked_at_head: set[str] | None = field(default=None, repr=False)
    _identity: Identity | None = field(default=None, repr=False)
    _resilience: Resilience | None = field(default=None, repr=False)
    _vault: Vault | None = field(default=None, repr=False)
    _events: EventBus | None = field(default=None, repr=False)
    _dispatcher: Dispatcher | None = field(default=None, repr=False)
    _transport: EventTransport | None = field(default=None, repr=False)
    _jobs: Jobs | None = field(default=None, repr=False)
    _idempotency: Idempotency | None = field(default=None, repr=False)
    _realtime: Hub | None = field(default=None, repr=False)
    _workers: BackgroundWorkers | None = field(default=None, repr=False)
    _shared: SharedStore | None = field(default=None, repr=False)
    _shared_built: bool = field(default=False, repr=False)

    @property
    def identity(self) -> Identity:
        """Token signer, policy cache and limiters (kernel-internal)."""
        if self._identity is None:
            self._identity = Identity(
                self.settings, self.database, self.permissions, self.vault, self.shared
            )
        return self._identity

    @property
    def shared(self) -> SharedStore | None:
        """The Redis shared by every worker (``KRALIKI_REDIS_URL``), or None (kernel-internal)."""
        if not self._shared_built:
            self._shared = SharedStore.from_settings(self.settings, self.metrics)
            self._shared_built = True
        return self._shared

    def attempt_throttle(self, name: str, limit: int, window: float) -> AsyncAttemptThrottle:
        """``limit`` attempts per key within ``window`` seconds, counted across every worker
        and host when ``KRALIKI_REDIS_URL`` is set, else in this worker (use it with
        :func:`kernel.limit_attempts_async`). ``name`` namespaces the counts: one per use."""
        return AsyncAttemptThrottle(FailureThrottle(limit, window), self.shared, name)

    @property
    def resilience(self) -> Resilience:
        """Timeouts, retries and circuit breakers for every outbound call
        (``await platform.resilience.request("telnyx", "POST", url, json=...)``)."""
        if self._resilience is None:
            self._resilience = Resilience(
                self.settings,
                self.metrics,
                shared=self.shared,
                on_client=lambda client: instrument_http_client(client, self),
            )
        return self._resilience

    async def close_outbound(self) -> None:
        """Close the outbound HTTP connection pool and the Redis client (at shutdown, after
        the plugins' hooks)."""
        if self._resilience is not None:
            await self._resilience.aclose()
        if self._shared is not None:
            await self._shared.aclose()  # its connections; it reconnects if used again

    @property
    def vault(self) -> Vault:
        """Tenants' secrets: ``await platform.vault.reveal(name, plugin=..., purpose=...)``."""
        if self._vault is None:
            self._vault = Vault(
                self.settings,
                self.database,
                self.hooks,
                self.metrics,
                self.plugins.transitive_requirements(),
            )
        return self._vault

    @property
    def events(self) -> EventBus:
        """Domain events: ``await platform.events.publish(session, MyEvent(...))`` inside
        the transaction that makes the change."""
        if self._events is None:
            self._events = EventBus(
                build_catalog(self.hooks, self.permissions),
                schema=self.settings.database_schema,
            )
        return self._events

    @property
    def dispatcher(self) -> Dispatcher:
        """Delivers committed events (kernel-internal; ``drain()`` in tests)."""
        if self._dispatcher is None:
            self._dispatcher = Dispatcher(
                self.settings,
                self.database,
                self.hooks,
                self.events,
                self.metrics,
                self,
                self.event_transport,
            )
            self.events.on_published(self._dispatcher.wake)
        return self._dispatcher

    @property
    def event_transport(self) -> EventTransport:
        """How dispatches reach every worker (``KRALIKI_EVENT_TRANSPORT``; kernel-internal)."""
        if self._transport is None:
            self._transport = build_transport(
                self.settings, self.database, self.events, self.metrics
            )
        return self._transport

    @property
    def jobs(self) -> Jobs:
        """Per-tenant background work: ``await platform.jobs.wake(session, topic)``."""
        if self._jobs is None:
            self._jobs = Jobs(self.settings, self.database, self.metrics, build_topics(self.hooks))
        return self._jobs

    @property
    def idempotency(self) -> Idempotency:
        """``Idempotency-Key`` handling for side-effecting POSTs:
        ``async with platform.idempotency.claim(key, scope=..., request=..., principal=...)``."""
        if self._idempotency is None:
            self._idempotency = Idempotency(self.settings, self.database)
        return self._idempotency

    @property
    def realtime(self) -> Hub:
        """This worker's real-time connections and their fan-out (kernel-internal)."""
        if self._realtime is None:
            from kernel._realtime.hub import Hub  # it reaches back into identity

            self._realtime = Hub(self)
            self.events.on_dispatched(self._realtime.tenant_advanced)
            self.events.on_dispatched_here(self._realtime.dispatched_here)
        return self._realtime

    async def start_background(self, *, run_workers: bool | None = None) -> None:
        """Start the listener and (unless ``KRALIKI_BACKGROUND_WORKERS`` is off) the
        dispatcher and job worker: the app's lifespan and ``kraliki worker`` call this."""
        self._workers = BackgroundWorkers(self)
        if run_workers is None:
            run_workers = self.settings.background_workers
        await self._workers.start(run_workers=run_workers)

    async def stop_background(self) -> None:
        if self._workers is not None:
            await self._workers.stop()
            self._workers = None
        await self.close_event_transport()

    async def close_event_transport(self) -> None:
        """Close the event transport's connections (a NATS connection; nothing on
        PostgreSQL), after the background workers stopped."""
        if self._transport is not None:
            await self._transport.close()

    @property
    def hooks(self) -> Hooks:
        return self.plugins.hooks

    async def pending_migrations(self) -> set[str]:
        """Head revisions of loaded branches that the database has not reached."""
        from kernel._migrations import current_revisions, pending_heads

        current = await current_revisions(self.database.engine)
        if current == self._checked_at_head:
            return set()
        pending = pending_heads(self.plugins, current)
        if not pending:
            self._checked_at_head = current  # heads are fixed while the process runs
        return pending

    @property
    def permissions(self) -> UniqueRegistry[Permission]:
        return self.plugins.permissions

    async def notify_tenant(self, hook_name: str, tenant_id: uuid.UUID, **kwargs: Any) -> None:
        """Call a notification hook for one tenant's event: inside that tenant's scope, and
        skipping the plugins the tenant disabled. Failures are isolated as in ``notify``."""
        async with self.database.session() as session:
            disabled = await session.scalar(
                select(Tenant.disabled_plugins).where(Tenant.id == tenant_id)
            )
        with tenant_scope(tenant_id):
            await self.hooks.notify(
                hook_name, skip=frozenset(disabled or ()), tenant_id=tenant_id, **kwargs
            )


def resolve_plugins(settings: Settings, plugins: list[object] | None = None) -> PluginSet:
    """Load the core components and the installed plugins (filtered by ``KRALIKI_PLUGINS``),
    or the core components and exactly ``plugins``."""
    core = core_components()
    if plugins is not None:
        sources = [p if isinstance(p, PluginSource) else PluginSource(p) for p in plugins]
        given = {id(source.obj) for source in sources}
        return load_plugins([*(c for c in core if id(c.obj) not in given), *sources])
    available = installed_plugins()
    selected = select_plugins(available, settings.plugins)
    return load_plugins(
        [*core, *selected],
        installed=[s.entry_point for s in available if s.entry_point is not None],
    )


def build_platform(settings: Settings, plugins: list[object] | None = None) -> Platform:
    plugin_set = resolve_plugins(settings, plugins)
    engine = make_engine(
        settings.database_url,
        schema=settings.database_schema,
        pool_size=settings.database_pool_size,
        echo=settings.database_echo,
    )
    platform = Platform(settings=settings, database=Database(engine), plugins=plugin_set)
    hook_failures = platform.metrics.hook_failures
    plugin_set.hooks.on_failure = lambda plugin, hook: hook_failures.labels(plugin, hook).inc()
    instrument_engine(engine, platform.tracing)
    watch_connections(engine, platform.metrics)
    try:
        plugin_set.hooks.configure(platform)
        # Declarations are checked at start, not on first use.
        _ = platform.vault, platform.events, platform.jobs
    except BaseException:
        engine.sync_engine.dispose()
        platform.tracing.shutdown()
        raise
    return platform


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


@asynccontextmanager
async def open_platform(settings: Settings | None = None) -> AsyncIterator[Platform]:
    """A platform outside the web app (CLI commands, scripts, workers): started with the
    plugins' startup hooks and disposed of at the end of the block."""
    from kernel._announce import announce

    platform = build_platform(settings or Settings())
    # Run from a ``kraliki`` command: say on stderr which database it acts on.
    announce(platform.settings.database_url, platform.settings.database_schema)
    await platform.hooks.startup(platform)
    try:
        yield platform
    finally:
        await platform.hooks.shutdown(platform)
        await platform.close_outbound()
        await platform.close_event_transport()
        await platform.database.dispose()
        platform.tracing.shutdown()
