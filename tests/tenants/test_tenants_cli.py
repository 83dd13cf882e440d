"""``kraliki tenants ...`` against a real database, as an operator at a shell would."""

from __future__ import annotations

import json

import pytest

from kernel.testing import run_cli


@pytest.fixture
def cli_env(kraliki_database, monkeypatch):
    monkeypatch.delenv("KRALIKI_PLUGINS", raising=False)
    monkeypatch.setenv("KRALIKI_DATABASE_URL", kraliki_database.url)
    monkeypatch.setenv("KRALIKI_MIGRATION_DATABASE_URL", kraliki_database.owner_url)
    if kraliki_database.schema:
        monkeypatch.setenv("KRALIKI_DATABASE_SCHEMA", kraliki_database.schema)
    assert run("migrate").exit_code == 0
    return kraliki_database


def run(*args: str, input: str | None = None):
    return run_cli(*args, input=input, catch_exceptions=False)


CREATE = (
    "tenants",
    "create",
    "--name",
    "Acme",
    "--slug",
    "acme",
    "--owner-email",
    "owner@acme.example.com",
    "--owner-password",
    "owner password 123",
)


def test_create_prints_the_tenant_as_json(cli_env):
    result = run(*CREATE)
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert created["slug"] == "acme"
    assert created["status"] == "active"
    assert len(created["id"]) == 36
    assert "owner password" not in result.output
    listed = [json.loads(line) for line in run("tenants", "list").stdout.splitlines()]
    assert [t["id"] for t in listed] == [created["id"]]


def test_create_refuses_a_taken_slug_and_bad_input(cli_env):
    assert run(*CREATE).exit_code == 0
    again = run_cli(*CREATE)
    assert again.exit_code == 1
    assert "taken" in again.output
    short = run_cli(
        "tenants",
        "create",
        "--name",
        "B",
        "--slug",
        "beta",
        "--owner-email",
        "o@beta.example.com",
        "--owner-password",
        "short",
    )
    assert short.exit_code == 2
    assert "owner_password" in short.output


def test_suspend_resume_and_delete_with_confirmation(cli_env):
    assert run(*CREATE).exit_code == 0
    assert json.loads(run("tenants", "suspend", "acme").stdout)["status"] == "suspended"
    assert json.loads(run("tenants", "resume", "acme").stdout)["status"] == "active"
    declined = run_cli("tenants", "delete", "acme", input="n\n")
    assert declined.exit_code == 1
    assert run("tenants", "list").stdout.strip() != ""
    confirmed = run("tenants", "delete", "acme", input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert run("tenants", "list").stdout.strip() == ""
    missing = run_cli("tenants", "suspend", "acme")
    assert missing.exit_code == 1
    assert "no tenant" in missing.output


def test_commands_say_on_stderr_which_database_they_act_on(cli_env):
    from sqlalchemy.engine import make_url

    url = make_url(cli_env.url)
    shown = url.render_as_string(hide_password=True)
    result = run(*CREATE)
    assert result.exit_code == 0, result.output
    assert f"kraliki: database: {shown}" in result.stderr
    assert json.loads(result.stdout)["slug"] == "acme"  # stdout is the answer alone
    if url.password:
        assert url.password not in result.stderr
    if cli_env.schema:
        assert f"schema {cli_env.schema}" in result.stderr
    migrated = run("migrate")
    owner_shown = make_url(cli_env.owner_url).render_as_string(hide_password=True)
    assert f"kraliki: migrating: {owner_shown}" in migrated.stderr
    assert "kraliki:" not in migrated.stdout
    # once per command, however many times it opens the platform
    assert run("tenants", "list").stderr.count("kraliki: database:") == 1
