"""``kraliki contacts import`` and ``export`` against a real database, as at a shell."""

from __future__ import annotations

import csv
import io

import pytest

from kernel.testing import run_cli

SAMPLE = "Name;Phone;Tags\nAna;(201) 555-0101;vip\nBob;+420 601 123 456;\nBad;12;\n"


@pytest.fixture
def cli_env(kraliki_database, monkeypatch):
    monkeypatch.delenv("KRALIKI_PLUGINS", raising=False)
    monkeypatch.setenv("KRALIKI_DATABASE_URL", kraliki_database.url)
    monkeypatch.setenv("KRALIKI_MIGRATION_DATABASE_URL", kraliki_database.owner_url)
    if kraliki_database.schema:
        monkeypatch.setenv("KRALIKI_DATABASE_SCHEMA", kraliki_database.schema)
    assert run("migrate").exit_code == 0
    created = run(
        "tenants", "create", "--name", "Acme", "--slug", "acme",
        "--owner-email", "owner@acme.example.com", "--owner-password", "owner password 123",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    return kraliki_database


def run(*args: str):
    return run_cli(*args, catch_exceptions=False)


def test_import_then_export(cli_env, tmp_path):
    source = tmp_path / "people.csv"
    source.write_text(SAMPLE, encoding="utf-8")
    report = tmp_path / "errors.csv"
    dry = run("contacts", "import", str(source), "--tenant", "acme", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "Dry run of all 3 rows, nothing written: would be 2 created" in dry.stdout
    result = run(
        "contacts", "import", str(source), "--tenant", "acme",
        "--map", "Name=name", "--map", "Phone=phones", "--errors", str(report),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (
        "All 3 rows processed (rows 2-4): 2 created, 0 updated, 0 skipped, 1 failed."
        in result.stdout
    )
    assert "Importing" in result.stderr  # the progress bar
    assert "Phone -> phones" in result.stderr
    assert report.read_text(encoding="utf-8-sig").splitlines() == [
        "row,column,reason",
        "4,Phone,not a valid number in its numbering plan",
    ]
    exported = run("contacts", "export", "--tenant", "acme")
    assert exported.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(exported.stdout_bytes.decode("utf-8-sig"))))
    assert sorted((r["name"], r["phone"], r["tags"]) for r in rows) == [
        ("Ana", "'+12015550101", ""),  # the tags column was not mapped this time
        ("Bob", "'+420601123456", ""),
    ]


def test_bad_input_is_explained(cli_env, tmp_path):
    source = tmp_path / "people.csv"
    source.write_text(SAMPLE, encoding="utf-8")
    wrong = run_cli("contacts", "import", str(source), "--tenant", "acme", "--map", "Nope=name")
    assert wrong.exit_code != 0
    assert "Nope: the file has no such column" in wrong.output
    nobody = run_cli("contacts", "import", str(source), "--tenant", "nobody")
    assert "no tenant 'nobody'" in nobody.output
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    refused = run_cli("contacts", "import", str(empty), "--tenant", "acme")
    assert "the file is empty" in refused.output
