"""The kraliki command line, driven in process with click's runner."""

from __future__ import annotations

import asyncio
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from kernel import Settings
from kernel._cli import _bootstrap, build_cli
from kernel._db import Database, make_engine
from kernel._operators import PlatformOperator
from kernel._passwords import verify_password
from kernel._plugins import installed_plugins


@pytest.fixture
def cli_env(kraliki_database, monkeypatch):
    monkeypatch.delenv("KRALIKI_PLUGINS", raising=False)
    monkeypatch.delenv("KRALIKI_BOOTSTRAP_PASSWORD", raising=False)
    monkeypatch.setenv("KRALIKI_DATABASE_URL", kraliki_database.url)
    monkeypatch.setenv("KRALIKI_MIGRATION_DATABASE_URL", kraliki_database.owner_url)
    if kraliki_database.schema:
        monkeypatch.setenv("KRALIKI_DATABASE_SCHEMA", kraliki_database.schema)
    return kraliki_database


def invoke(*args: str):
    return CliRunner().invoke(build_cli(), list(args), catch_exceptions=False)


def test_help_lists_the_kernel_commands():
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("serve", "migrate", "plugins", "routes"):
        assert command in result.output


def test_plugins_list_shows_builtins(cli_env):
    rows = json.loads(invoke("plugins", "list", "--json").output)["plugins"]
    system = next(row for row in rows if row["name"] == "system")
    assert system["enabled"] is True
    assert system["requires"] == []
    assert system["permissions"] == ["system.plugins:read"]
    assert system["routes"] == [
        {
            "method": "GET",
            "path": "/api/v1/system/plugins",
            "access": "requires system.plugins:read",
        }
    ]
    text = invoke("plugins", "list").output
    assert "system" in text
    assert "[enabled]" in text


def test_plugins_list_reports_a_bad_allowlist_instead_of_crashing(cli_env, monkeypatch):
    monkeypatch.setenv("KRALIKI_PLUGINS", "system,nonexistent")
    result = CliRunner().invoke(build_cli(), ["plugins", "list"])
    assert result.exit_code == 1
    assert "'nonexistent', which is not installed" in result.output
    as_json = CliRunner().invoke(build_cli(), ["plugins", "list", "--json"])
    assert as_json.exit_code == 1
    listing = json.loads(as_json.stdout)
    assert "'nonexistent', which is not installed" in listing["error"]
    # Every installed plugin is still listed (whatever else is installed beside the built-ins).
    installed = sorted(source.entry_point or "" for source in installed_plugins())
    assert [row["name"] for row in listing["plugins"]] == installed
    assert {"calls", "ivr", "loopback", "system", "telnyx", "twilio", "webhooks"} <= set(installed)


def test_routes_prints_the_permission_table(cli_env):
    output = invoke("routes").output
    assert "/api/v1/system/plugins" in output
    assert "requires system.plugins:read" in output
    assert "public: liveness probe" in output
    assert "WS     /api/v1/realtime" in output
    assert "requires events:subscribe (checked in the protocol)" in output


def test_migrate_then_status(cli_env):
    assert invoke("migrate").exit_code == 0
    status = invoke("migrate", "status")
    assert status.exit_code == 0
    assert "up to date" in status.output
    assert invoke("migrate", "downgrade", "base").exit_code == 0
    pending = CliRunner().invoke(build_cli(), ["migrate", "status"])
    assert pending.exit_code == 1
    assert "pending" in pending.output


def operators(database) -> list[PlatformOperator]:
    async def fetch() -> list[PlatformOperator]:
        db = Database(make_engine(database.url, schema=database.schema))
        async with db.session() as session:
            rows = list(await session.scalars(select(PlatformOperator)))
        await db.dispose()
        return rows

    return asyncio.run(fetch())


def test_bootstrap_prints_a_generated_password_once(cli_env, capsys):
    assert invoke("migrate").exit_code == 0
    capsys.readouterr()
    _bootstrap(Settings(_env_file=None))
    shown = capsys.readouterr().err
    assert "generated password (shown only now):" in shown
    password = shown.split("(shown only now):", 1)[1].split()[0]
    (operator,) = operators(cli_env)
    assert operator.email == "operator@localhost"
    assert verify_password(operator.password_hash, password)
    assert password not in operator.password_hash

    _bootstrap(Settings(_env_file=None))
    assert capsys.readouterr().err == ""
    assert len(operators(cli_env)) == 1


def test_bootstrap_uses_the_configured_password_and_never_prints_it(
    cli_env, monkeypatch, capsys, caplog
):
    monkeypatch.setenv("KRALIKI_BOOTSTRAP_EMAIL", "Ops@Example.com")
    monkeypatch.setenv("KRALIKI_BOOTSTRAP_PASSWORD", "a long chosen passphrase")
    assert invoke("migrate").exit_code == 0
    _bootstrap(Settings(_env_file=None))
    captured = capsys.readouterr()
    assert "ops@example.com" in captured.err
    assert "a long chosen passphrase" not in captured.err + captured.out + caplog.text
    (operator,) = operators(cli_env)
    assert verify_password(operator.password_hash, "a long chosen passphrase")


def test_serve_tells_the_app_where_it_is_served(cli_env, monkeypatch, caplog):
    import os

    import kernel._serve

    served = []
    monkeypatch.setenv("KRALIKI_SERVED_BASE_URL", "http://stale.example:1")  # restored after
    monkeypatch.setattr(
        kernel._serve, "run_api", lambda settings, **options: served.append(settings)
    )
    result = invoke("serve", "--host", "0.0.0.0", "--port", "8123", "--no-bootstrap")
    assert result.exit_code == 0, result.output
    # this process's settings and the workers' (they inherit the environment)
    assert served[0].served_base_url == "http://127.0.0.1:8123"
    assert os.environ["KRALIKI_SERVED_BASE_URL"] == "http://127.0.0.1:8123"
    # logged (its stderr is a log stream), wherever this process's log handler writes
    assert "kraliki: serving: " in result.stderr + caplog.text
