"""Shared fixtures: throwaway plugins, the integrator's example distribution, DB selection.

The kernel.testing fixtures are loaded as a pytest plugin (entry point).
"""

from __future__ import annotations

import importlib
import shutil
import sys
import types
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from fastapi import APIRouter
from flaky_upstream import FlakyServer
from suite_plugins import expose_distribution

from kernel import Permission, PluginInfo, hookimpl
from kernel.testing import postgres_test_urls, run_cli, use_cheap_password_hashing

pytest.register_assert_rewrite("model_provider_suite")  # its shared tests report as tests do


def make_plugin(
    name: str,
    version: str = "1.0.0",
    *,
    requires: Sequence[str] = (),
    prefix: str | None = None,
    permissions: Sequence[Permission] = (),
    routers: Sequence[APIRouter] = (),
    **hooks: Callable[..., Any],
) -> types.SimpleNamespace:
    """A plugin object: ``kraliki_plugin_info`` plus whatever hooks are given (unprefixed)."""
    info = PluginInfo(name=name, version=version, requires=tuple(requires), route_prefix=prefix)
    namespace: dict[str, Any] = {"kraliki_plugin_info": hookimpl(lambda: info)}
    if permissions:
        namespace["kraliki_permissions"] = hookimpl(lambda: list(permissions))
    if routers:
        namespace["kraliki_routes"] = hookimpl(lambda: list(routers))
    for hook, function in hooks.items():
        namespace[f"kraliki_{hook}"] = hookimpl(function)
    plugin = types.SimpleNamespace(**namespace)
    plugin.__name__ = name  # pluggy's registration name when no entry point names it
    return plugin


@pytest.fixture(name="make_plugin")
def make_plugin_fixture() -> Callable[..., types.SimpleNamespace]:
    return make_plugin


INTEGRATOR_DIST = Path(__file__).parent / "kernel" / "integrator" / "acme_blocklist_dist"
collect_ignore_glob = ["kernel/integrator/*/tests/*"]
"""The example distribution's own tests run with it installed (test_integrator_suite.py)."""


@pytest.fixture(scope="session")
def acme_distribution_paths(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A copy of the integrator's distribution and a site dir exposing it: (site, src)."""
    root = tmp_path_factory.mktemp("acme")
    project = root / "acme_blocklist_dist"
    shutil.copytree(INTEGRATOR_DIST, project)
    site = root / "site"
    expose_distribution(project, site)
    return site, project / "src"


@pytest.fixture
def acme_distribution(acme_distribution_paths: tuple[Path, Path]) -> Iterator[Path]:
    """The third-party plugin, installed for this test only (on sys.path, then removed)."""
    site, src = acme_distribution_paths
    sys.path[:0] = [str(site), str(src)]
    importlib.invalidate_caches()
    try:
        yield site
    finally:
        for entry in (str(site), str(src)):
            sys.path.remove(entry)
        importlib.invalidate_caches()


ON_POSTGRES = postgres_test_urls() is not None


def pytest_report_header() -> str:
    return f"kraliki test database: {'postgresql' if ON_POSTGRES else 'sqlite'}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(reason="needs PostgreSQL (set KRALIKI_TEST_DATABASE_URL)")
    once = pytest.mark.skip(reason="uses a SQLite file of its own: runs on the SQLite run")
    for item in items:
        if item.get_closest_marker("postgres_only") and not ON_POSTGRES:
            item.add_marker(skip)
        if item.get_closest_marker("own_sqlite_database") and ON_POSTGRES:
            item.add_marker(once)


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id at its minimum cost (about 2 ms instead of about 120 ms a hash).

    These tests exercise who may log in and what they may do, not the KDF's cost; every hash
    is still a real Argon2id hash checked by the real verifier (hashes made at the default
    cost, such as the login route's timing equalizer, verify at their own cost).
    """
    use_cheap_password_hashing(monkeypatch)


@pytest.fixture
async def upstream() -> AsyncIterator[FlakyServer]:
    """A provider stand-in on loopback that fails on demand (``tests/flaky_upstream.py``)."""
    server = FlakyServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def operator_cli(kraliki_database, monkeypatch, tmp_path) -> Callable[..., Result]:
    """``kraliki ...`` run in this process as an operator at a shell would, against this
    test's database, migrated, with an organization ``acme`` (owner
    ``owner@acme.example.com``): ``result = operator_cli("calls", "reconcile")``."""
    monkeypatch.delenv("KRALIKI_PLUGINS", raising=False)
    monkeypatch.setenv("KRALIKI_DATABASE_URL", kraliki_database.url)
    monkeypatch.setenv("KRALIKI_MIGRATION_DATABASE_URL", kraliki_database.owner_url)
    monkeypatch.setenv("KRALIKI_MASTER_KEY_FILE", str(tmp_path / "master.key"))
    if kraliki_database.schema:
        monkeypatch.setenv("KRALIKI_DATABASE_SCHEMA", kraliki_database.schema)

    def run(*args: str) -> Result:
        return run_cli(*args)

    assert run("migrate").exit_code == 0
    created = run(
        "tenants",
        "create",
        "--name",
        "Acme",
        "--slug",
        "acme",
        "--owner-email",
        "owner@acme.example.com",
        "--owner-password",
        "a long enough password 1",
    )
    assert created.exit_code == 0, created.output
    return run
