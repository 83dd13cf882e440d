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
    created = json.loads(result.output)
    assert created["slug"] == "acme"
    assert created["status"] == "active"
    assert len(created["id"]) == 36
    assert "owner password" not in result.output
    listed = [json.loads(line) for line in run("tenants", "list").output.splitlines()]
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
    assert json.loads(run("tenants", "suspend", "acme").output)["status"] == "suspended"
    assert json.loads(run("tenants", "resume", "acme").output)["status"] == "active"
    declined = run_cli("tenants", "delete", "acme", input="n\n")
    assert declined.exit_code == 1
    assert run("tenants", "list").output.strip() != ""
    confirmed = run("tenants", "delete", "acme", input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert run("tenants", "list").output.strip() == ""
    missing = run_cli("tenants", "suspend", "acme")
    assert missing.exit_code == 1
    assert "no tenant" in missing.output
