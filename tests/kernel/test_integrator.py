"""Proof for integrators: a plugin shipped as its own distribution works with no kernel change.

The distribution lives in ``integrator/acme_blocklist_dist`` (its own pyproject with a
``kraliki.plugins`` entry point); the fixture exposes it to importlib.metadata the way an
installer would. Nothing in the kernel names it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect

from kernel._db import make_engine
from kernel._plugins import installed_plugins, select_plugins

KRALIKI = str(Path(sys.executable).parent / "kraliki")


@pytest.fixture
def kraliki_installed_plugins(acme_distribution):
    # Resolved after the distribution is exposed: discovery is the real entry-point scan.
    return list(select_plugins(installed_plugins(), None))


def test_distribution_is_discovered_through_its_entry_point(acme_distribution):
    sources = {source.entry_point: source for source in installed_plugins()}
    assert sources["acme_blocklist"].distribution == "acme-kraliki-blocklist 1.2.0"
    assert "system" in sources


async def test_route_answers_migration_applies_and_hooks_run(
    kraliki_app, kraliki_client, kraliki_authenticate, kraliki_database, kraliki_make_tenant
):
    import acme_blocklist

    # kraliki_startup ran when the app started.
    assert acme_blocklist.started[-1] == f"acme_blocklist started on {kraliki_database.dialect}"

    engine = make_engine(kraliki_database.url, schema=kraliki_database.schema)
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    await engine.dispose()
    assert "acme_blocklist_numbers" in tables

    kraliki_authenticate(
        kraliki_app,
        "acme_blocklist.numbers:read",
        "acme_blocklist.numbers:write",
        kind="user",
        tenant_id=await kraliki_make_tenant("acme"),
    )
    created = await kraliki_client.post(
        "/api/v1/blocklist/numbers", json={"number": "+420601123456", "reason": "asked"}
    )
    assert created.status_code == 201, created.text
    duplicate = await kraliki_client.post(
        "/api/v1/blocklist/numbers", json={"number": "+420601123456"}
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["type"] == "/problems/acme-blocklist-already-blocked"
    listed = (await kraliki_client.get("/api/v1/blocklist/numbers")).json()
    assert [item["number"] for item in listed["items"]] == ["+420601123456"]

    spec = (await kraliki_client.get("/openapi.json")).json()
    assert spec["paths"]["/api/v1/blocklist/numbers"]["get"]["tags"] == ["acme_blocklist"]


def run_kraliki(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KRALIKI, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.own_sqlite_database
def test_command_line_sees_migrates_and_runs_the_plugin(acme_distribution_paths, tmp_path):
    site, src = acme_distribution_paths
    env = {key: value for key, value in os.environ.items() if not key.startswith("KRALIKI_")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(site), str(src)]),
        KRALIKI_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
    )
    listing = run_kraliki("plugins", "list", "--json", env=env)
    assert listing.returncode == 0, listing.stderr
    rows = {row["name"]: row for row in json.loads(listing.stdout)["plugins"]}
    acme = rows["acme_blocklist"]
    assert acme["version"] == "1.2.0"
    assert acme["enabled"] is True
    assert acme["distribution"] == "acme-kraliki-blocklist 1.2.0"
    assert {r["path"] for r in acme["routes"]} == {"/api/v1/blocklist/numbers"}
    assert acme["permissions"] == ["acme_blocklist.numbers:read", "acme_blocklist.numbers:write"]

    migrated = run_kraliki("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert "acme_blocklist_0001" in migrated.stderr  # alembic logs each revision it applies

    command = run_kraliki("blocklist", "check", "+420601123456", env=env)
    assert command.returncode == 0, command.stderr
    assert command.stdout.strip() == "ok"


def test_plugins_list_marks_plugins_outside_the_allowlist_disabled(acme_distribution):
    from kernel import Settings
    from kernel._introspection import describe_plugins

    listing = describe_plugins(Settings(_env_file=None, plugins=["system"]))
    assert listing["error"] is None
    rows = {row["name"]: row for row in listing["plugins"]}
    assert rows["acme_blocklist"]["enabled"] is False
    assert rows["acme_blocklist"]["routes"] == []
    assert rows["acme_blocklist"]["permissions"] == [
        "acme_blocklist.numbers:read",
        "acme_blocklist.numbers:write",
    ]
    assert rows["system"]["enabled"] is True
