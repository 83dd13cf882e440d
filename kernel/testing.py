"""Pytest fixtures for plugin authors (loaded automatically as the ``kraliki`` pytest plugin).

Every test gets a fresh database (a SQLite file, or with ``KRALIKI_TEST_DATABASE_URL`` a
PostgreSQL schema of its own), migrated with the plugins under test, and an app served in
process::

    @pytest.fixture
    def kraliki_extra_plugins():
        return [my_plugin]          # a module or object with @hookimpl functions

    async def test_route(kraliki_client, kraliki_authenticate, kraliki_app):
        kraliki_authenticate(kraliki_app, "my_plugin.things:read")
        response = await kraliki_client.get("/api/v1/my-plugin/things")
        assert response.status_code == 200

Environment: ``KRALIKI_TEST_DATABASE_URL`` (PostgreSQL as the app role) and
``KRALIKI_TEST_MIGRATION_DATABASE_URL`` (as the owner role; defaults to the former).
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool
from starlette.types import ASGIApp

from kernel._app import create_app
from kernel._auth import current_principal
from kernel._identity.provisioning import add_user
from kernel._isolation import assert_rls_enabled as assert_rls_enabled
from kernel._isolation import assert_tenant_isolation as assert_tenant_isolation
from kernel._isolation import tenant_models as tenant_models
from kernel._isolation import tenant_rows as tenant_rows
from kernel._migrations import upgrade
from kernel._platform import Platform, resolve_plugins
from kernel._plugins import PluginSet, installed_plugins, select_plugins
from kernel._plugins import installed_plugin as installed_plugin
from kernel._principal import Principal
from kernel._settings import Settings, sqlite_path
from kernel._tenancy import Tenant, tenant_scope
from kernel._testdb import MigratedTemplates, TemplateKey, template_key
from kernel._vault.access_log import VaultAccess as VaultAccess
from kernel._vault.access_log import vault_access_events as vault_access_events
from kernel._vault.keys import new_master_key

TEST_DATABASE_ENV = "KRALIKI_TEST_DATABASE_URL"
DEFAULT_TEST_PASSWORD = "correct horse battery staple"  # noqa: S105 (test fixture)
TEST_MIGRATION_DATABASE_ENV = "KRALIKI_TEST_MIGRATION_DATABASE_URL"
TEST_ADMIN_DATABASE_ENV = "KRALIKI_TEST_ADMIN_DATABASE_URL"
"""Optional: a superuser on the test database (faster clean-up of reused schemas; the few
tests that must act as a superuser skip without it)."""

_templates = MigratedTemplates(admin_url=os.environ.get(TEST_ADMIN_DATABASE_ENV) or None)
"""This test process's migrated templates (``kernel._testdb``)."""


@dataclass(frozen=True)
class TestDatabase:
    """Where one test's data lives; ``settings()`` points the platform at it."""

    __test__ = False  # not a test class, despite the name

    url: str
    owner_url: str
    schema: str | None
    master_key: str = field(default_factory=new_master_key)
    """The vault master key of this database's platforms (never a file in the work tree)."""
    migrated_with: list[TemplateKey] = field(default_factory=list, compare=False)
    """The branches :func:`migrate_test_database` last brought it to (kept for reuse)."""

    @property
    def dialect(self) -> str:
        return "sqlite" if self.url.startswith("sqlite") else "postgresql"

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": self.url,
            "migration_database_url": self.owner_url or None,
            "database_schema": self.schema,
            "database_pool_size": 5,
            "master_key": self.master_key,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)


def postgres_test_urls() -> tuple[str, str] | None:
    """(app URL, owner URL) when tests should run on PostgreSQL, else None."""
    url = os.environ.get(TEST_DATABASE_ENV)
    if not url:
        return None
    return url, os.environ.get(TEST_MIGRATION_DATABASE_ENV) or url


@pytest_asyncio.fixture
async def kraliki_database(tmp_path: Path) -> AsyncIterator[TestDatabase]:
    """A fresh, empty database for this test (not migrated yet)."""
    database = await create_test_database(tmp_path)
    try:
        yield database
    finally:
        await drop_test_database(database)


async def create_test_database(directory: Path) -> TestDatabase:
    """A fresh, empty database: a SQLite file in ``directory``, or with
    ``KRALIKI_TEST_DATABASE_URL`` a PostgreSQL schema of its own (for fixtures of a wider
    scope than ``kraliki_database``); drop it with :func:`drop_test_database`."""
    urls = postgres_test_urls()
    if urls is None:
        url = f"sqlite+aiosqlite:///{directory / 'kraliki.db'}"
        return TestDatabase(url, url, None)
    app_url, owner_url = urls
    schema = f"test_{uuid.uuid4().hex[:16]}"
    app_role = make_url(app_url).username
    owner_role = make_url(owner_url).username
    async with _owner_connection(owner_url) as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        if app_role and app_role != owner_role:
            for statement in schema_grants(schema, app_role):
                await connection.execute(text(statement))
    return TestDatabase(app_url, owner_url, schema)


async def drop_test_database(database: TestDatabase) -> None:
    """Remove what :func:`create_test_database` made (a SQLite file goes with its directory);
    a schema whose structure is still what its migrations made is emptied and kept for a
    later test of this process instead (``kernel._testdb``)."""
    if database.schema is None:
        return
    if database.migrated_with and await _templates.recycle_postgres(
        database.settings(), database.migrated_with[-1]
    ):
        return
    async with _owner_connection(database.owner_url) as connection:
        await connection.execute(text(f'DROP SCHEMA IF EXISTS "{database.schema}" CASCADE'))


@asynccontextmanager
async def _owner_connection(owner_url: str) -> AsyncIterator[AsyncConnection]:
    owner = create_async_engine(
        Settings(_env_file=None, database_url=owner_url).database_url, poolclass=NullPool
    )
    try:
        async with owner.begin() as connection:
            yield connection
    finally:
        await owner.dispose()


async def migrate_test_database(
    database: TestDatabase, settings: Settings, plugins: PluginSet
) -> None:
    """Bring a test's database to the heads of ``plugins``' branches: from this process's
    template when there is one for these branches, else by running the migrations (and
    keeping the result as the template)."""
    key = template_key(plugins)
    if database.dialect == "sqlite":
        path = sqlite_path(settings.owner_database_url)
        fresh = path is not None and not path.exists()
        if not _templates.restore_sqlite(settings, key):
            await upgrade(settings, plugins)
            if fresh:
                _templates.keep_sqlite(settings, key)
        return
    state = await _templates.restore_postgres(settings, key)
    if state != "restored":
        await upgrade(settings, plugins)
        if state == "empty":
            await _templates.learn_postgres(settings, key)
    database.migrated_with.append(key)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Drop this process's spare schemas and template files."""
    urls = postgres_test_urls()
    if urls is not None:
        owner = Settings(_env_file=None, database_url=urls[1])
        asyncio.run(_templates.drop_spares(owner))
    _templates.remove_files()


def schema_grants(schema: str, app_role: str) -> list[str]:
    """What the unprivileged app role may do in a schema the owner role migrates."""
    return [
        f'GRANT USAGE ON SCHEMA "{schema}" TO "{app_role}"',
        f'ALTER DEFAULT PRIVILEGES IN SCHEMA "{schema}" '
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "{app_role}"',
        f'ALTER DEFAULT PRIVILEGES IN SCHEMA "{schema}" '
        f'GRANT USAGE, SELECT ON SEQUENCES TO "{app_role}"',
    ]


@pytest.fixture
def kraliki_installed_plugins() -> list[object]:
    """The installed plugins the app loads (entry points, filtered by ``KRALIKI_PLUGINS``).

    Override with ``return []`` to test your plugin alone.
    """
    allowlist = Settings(_env_file=None).plugins
    return list(select_plugins(installed_plugins(), allowlist))


@pytest.fixture
def kraliki_extra_plugins() -> list[object]:
    """Plugins that are not installed (throwaway test plugins); override or append."""
    return []


@pytest.fixture
def kraliki_register_plugin(kraliki_extra_plugins: list[object]) -> Callable[[object], object]:
    """Register a throwaway plugin object for the app this test builds next."""

    def register(plugin: object) -> object:
        kraliki_extra_plugins.append(plugin)
        return plugin

    return register


@pytest.fixture
def kraliki_settings(kraliki_database: TestDatabase) -> Settings:
    return kraliki_database.settings()


AppFactory = Callable[..., Awaitable[FastAPI]]


@pytest_asyncio.fixture
async def kraliki_make_app(
    kraliki_database: TestDatabase,
    kraliki_installed_plugins: list[object],
    kraliki_extra_plugins: list[object],
) -> AsyncIterator[AppFactory]:
    """Build, migrate and start an app: ``await kraliki_make_app(plugins=..., migrate=True)``.

    Started apps are shut down (lifespan exit) when the test ends.
    """
    async with AsyncExitStack() as stack:

        async def make(
            *, plugins: list[object] | None = None, migrate: bool = True, **overrides: Any
        ) -> FastAPI:
            chosen = (
                plugins
                if plugins is not None
                else [*kraliki_installed_plugins, *kraliki_extra_plugins]
            )
            settings = kraliki_database.settings(**overrides)
            if migrate:
                plugin_set = resolve_plugins(settings, list(chosen))
                await migrate_test_database(kraliki_database, settings, plugin_set)
            app = create_app(settings, plugins=list(chosen))
            await stack.enter_async_context(app.router.lifespan_context(app))
            return app

        yield make


@pytest_asyncio.fixture
async def kraliki_app(kraliki_make_app: AppFactory) -> FastAPI:
    """The app with the installed and extra plugins, migrated and started."""
    return await kraliki_make_app()


@pytest.fixture
def kraliki_platform(kraliki_app: FastAPI) -> Platform:
    platform: Platform = kraliki_app.state.platform
    return platform


def app_client(app: FastAPI) -> httpx.AsyncClient:
    """An HTTP client for ``app`` in process (use as ``async with app_client(app) as c``)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def listening_socket(*, send_buffer: int | None = None) -> socket.socket:
    """A socket bound to a free loopback port, for :func:`serve_app`'s ``sock``: its address
    (:func:`socket_url`) is known before the app is built, so settings that must name the
    served address (``KRALIKI_CALLS_PUBLIC_BASE_URL``) can. ``send_buffer`` shrinks the
    kernel's send buffer of the accepted sockets."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if send_buffer is not None:  # accepted sockets inherit it
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    sock.bind(("127.0.0.1", 0))
    return sock


def free_port() -> int:
    """A loopback port free right now, for a server started in another process
    (``kraliki serve --port``): that process binds it itself, so it may be taken meanwhile
    (in-process servers use :func:`listening_socket`, which keeps the port)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def socket_url(sock: socket.socket) -> str:
    """``http://127.0.0.1:<port>`` of a socket from :func:`listening_socket`."""
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


@asynccontextmanager
async def serve_app(
    app: ASGIApp, *, send_buffer: int | None = None, sock: socket.socket | None = None
) -> AsyncIterator[str]:
    """Serve a started ``app`` (any ASGI app: the platform, a provider double) with uvicorn
    on a free loopback port (or on ``sock``, from :func:`listening_socket`), in this event
    loop, for clients that need a real server (WebSockets, streamed responses, provider
    callbacks); yields its base URL (``http://127.0.0.1:<port>``). ``send_buffer`` shrinks
    the kernel's send buffer of the accepted sockets, so that a client that stops reading
    blocks the server sooner."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextmanager
        def capture_signals(self) -> Iterator[None]:  # leave the test runner's signals alone
            yield

    if sock is None:
        sock = listening_socket(send_buffer=send_buffer)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, lifespan="off", log_config=None, access_log=False, timeout_graceful_shutdown=5
    )
    server = Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(task, 15)
        finally:
            sock.close()


@pytest_asyncio.fixture
async def kraliki_client(kraliki_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to ``kraliki_app`` in process, as a frontend would."""
    async with app_client(kraliki_app) as client:
        yield client


@pytest.fixture
def kraliki_spans(kraliki_platform: Platform) -> InMemorySpanExporter:
    """The spans ``kraliki_app`` records from now on: ``kraliki_spans.get_finished_spans()``."""
    exporter = InMemorySpanExporter()
    kraliki_platform.tracing.add_exporter(exporter)
    return exporter


TenantFactory = Callable[..., Awaitable[uuid.UUID]]


@pytest.fixture
def kraliki_make_tenant(kraliki_platform: Platform) -> TenantFactory:
    """Create a tenant row: ``tenant_id = await kraliki_make_tenant("acme")``."""

    async def make(slug: str, name: str | None = None) -> uuid.UUID:
        return await create_tenant(kraliki_platform, slug, name)

    return make


async def create_tenant(platform: Platform, slug: str, name: str | None = None) -> uuid.UUID:
    """Create a tenant row in ``platform``'s database (for apps other than ``kraliki_app``)."""
    async with platform.database.session() as session:
        tenant = Tenant(slug=slug, name=name or slug.title())
        session.add(tenant)
        await session.commit()
        return tenant.id


@pytest_asyncio.fixture
async def kraliki_tenant_models(kraliki_platform: Platform) -> list[type]:
    """``tenant_models(kraliki_platform)``: the tenant-owned models of this test's app."""
    return await tenant_models(kraliki_platform)


UserFactory = Callable[..., Awaitable[uuid.UUID]]


@pytest.fixture
def kraliki_make_user(kraliki_platform: Platform) -> UserFactory:
    """Add a user to a tenant: ``await kraliki_make_user(tenant_id, "a@x.test", roles=["admin"])``
    (password ``DEFAULT_TEST_PASSWORD`` unless given)."""

    async def make(
        tenant_id: uuid.UUID,
        email: str,
        *,
        password: str = DEFAULT_TEST_PASSWORD,
        roles: tuple[str, ...] | list[str] = ("agent",),
    ) -> uuid.UUID:
        with tenant_scope(tenant_id):
            async with kraliki_platform.database.session() as session:
                user_id = await add_user(session, email=email, password=password, roles=roles)
                await session.commit()
                return user_id

    return make


async def login(
    client: httpx.AsyncClient,
    email: str,
    password: str = DEFAULT_TEST_PASSWORD,
    *,
    tenant: str | None = None,
) -> dict[str, str]:
    """Log in through the API; returns ``Authorization`` headers for the access token."""
    body: dict[str, Any] = {"email": email, "password": password}
    if tenant is not None:
        body["tenant"] = tenant
    response = await client.post("/api/v1/auth/login", json=body)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def kraliki_authenticate() -> Iterator[Callable[..., Principal]]:
    """Make every request to ``app`` come from a principal holding ``permissions``.

    ``kraliki_authenticate(app, "calls:read", "calls:create", kind="user")``; ``subject``
    names the principal (a user's id, for what is kept per user).
    """
    apps: list[FastAPI] = []

    def authenticate(
        app: FastAPI,
        *permissions: str,
        kind: Literal["operator", "user", "api_key"] = "operator",
        tenant_id: uuid.UUID | None = None,
        subject: str | None = None,
    ) -> Principal:
        principal = Principal(
            subject=subject or f"test-{kind}",
            kind=kind,
            tenant_id=tenant_id,
            permissions=frozenset(permissions),
        )
        app.dependency_overrides[current_principal] = lambda: principal
        apps.append(app)
        return principal

    yield authenticate
    for app in apps:
        app.dependency_overrides.pop(current_principal, None)


async def published_events(
    platform: Platform, tenant_id: uuid.UUID
) -> list[tuple[str, dict[str, Any]]]:
    """The tenant's events in the outbox, dispatched or not, in the order they were
    published: ``(name, payload)`` pairs (what a test asserts a change published)."""
    return [(event.name, event.payload) for event in await outbox_events(platform, tenant_id)]


async def wait_until(
    condition: Callable[[], object], *, within: float = 10.0, interval: float = 0.01
) -> None:
    """Wait until ``condition()`` is truthy (background work: dispatch, jobs, deliveries);
    fails with TimeoutError after ``within`` seconds."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - polling a condition nothing signals
            await asyncio.sleep(interval)


# What plugin tests read or set up without private kernel imports (kernel/_testing_support.py);
# ``X as X`` marks each as re-exported.
from kernel._testing_support import AuditEntry as AuditEntry  # noqa: E402
from kernel._testing_support import OutboxEvent as OutboxEvent  # noqa: E402
from kernel._testing_support import add_operator as add_operator  # noqa: E402
from kernel._testing_support import assert_public_imports as assert_public_imports  # noqa: E402
from kernel._testing_support import audit_events as audit_events  # noqa: E402
from kernel._testing_support import job_due_at as job_due_at  # noqa: E402
from kernel._testing_support import operator_audit_events as operator_audit_events  # noqa: E402
from kernel._testing_support import outbox_events as outbox_events  # noqa: E402
from kernel._testing_support import run_cli as run_cli  # noqa: E402
from kernel._testing_support import (  # noqa: E402
    use_cheap_password_hashing as use_cheap_password_hashing,
)
from kernel._testing_support import use_dns_answers as use_dns_answers  # noqa: E402


@dataclass(frozen=True)
class TenantOwner:
    """A tenant with its owner logged in through the API (what ``kraliki_make_owner`` gives)."""

    tenant_id: uuid.UUID
    slug: str
    email: str
    headers: dict[str, str]
    """``Authorization`` headers of the owner's access token, for ``kraliki_client``."""


OwnerFactory = Callable[[str], Awaitable[TenantOwner]]


@pytest.fixture
def kraliki_make_owner(
    kraliki_client: httpx.AsyncClient,
    kraliki_make_tenant: TenantFactory,
    kraliki_make_user: UserFactory,
) -> OwnerFactory:
    """A tenant and its owner, logged in with real credentials and real RBAC:
    ``alpha = await kraliki_make_owner("alpha")``, then
    ``kraliki_client.get(..., headers=alpha.headers)``."""

    async def make(slug: str) -> TenantOwner:
        tenant_id = await kraliki_make_tenant(slug)
        email = f"owner@{slug}.example.com"
        await kraliki_make_user(tenant_id, email, roles=["owner"])
        headers = await login(kraliki_client, email, tenant=slug)
        return TenantOwner(tenant_id, slug, email, headers)

    return make


@asynccontextmanager
async def browser_page(
    executable: str, viewport: dict[str, int], *, expected_errors: Sequence[str] = ()
) -> AsyncIterator[Any]:
    """A fresh Chromium page (Playwright) at ``viewport``, for the tests of the pages people
    look at. On leaving, it fails the test on any script error or console error (a
    Content-Security-Policy violation, a failed request) but those containing one of
    ``expected_errors`` (read on leaving: a test may add to its list meanwhile)."""
    from playwright.async_api import async_playwright

    errors: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable)
        try:
            context = await browser.new_context(viewport=viewport)  # type: ignore[arg-type]
            page = await context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on(
                "console",
                lambda message: (
                    errors.append(f"{message.text} {message.location}")
                    if message.type == "error"
                    else None
                ),
            )
            yield page
        finally:
            await browser.close()
    unexpected = [e for e in errors if not any(known in e for known in expected_errors)]
    assert unexpected == [], unexpected
