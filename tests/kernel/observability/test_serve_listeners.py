"""``kraliki serve`` as an operator runs it: JSON logs from uvicorn, /metrics on its own port."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from kernel._cli import build_cli
from kernel._migrations import upgrade
from kernel._platform import resolve_plugins
from kernel._settings import Settings
from kernel.testing import free_port

KRALIKI = Path(sys.executable).parent / "kraliki"
TOKEN = "scrape-token-for-tests-0123456789"


def test_metrics_port_needs_one_worker(monkeypatch):
    monkeypatch.setenv("KRALIKI_METRICS_PORT", "9464")
    result = CliRunner().invoke(build_cli(), ["serve", "--workers", "2", "--no-bootstrap"])
    assert result.exit_code != 0
    assert "--workers 1" in result.output


@pytest.mark.own_sqlite_database
def test_serve_with_a_metrics_port(tmp_path):
    api_port, metrics_port = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KRALIKI_", "OTEL_"))},
        "KRALIKI_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}",
        "KRALIKI_METRICS_PORT": str(metrics_port),
        "KRALIKI_METRICS_TOKEN": TOKEN,
        "KRALIKI_LOG_FORMAT": "json",
    }
    # Migrated in this process (the `kraliki migrate` process is tested in tests/e2e).
    settings = Settings(_env_file=None, database_url=env["KRALIKI_DATABASE_URL"])
    asyncio.run(upgrade(settings, resolve_plugins(settings)))
    server = subprocess.Popen(
        [str(KRALIKI), "serve", "--port", str(api_port), "--no-bootstrap"],
        env=env,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        api = f"http://127.0.0.1:{api_port}"
        deadline = time.monotonic() + 90  # a busy CI machine imports slowly
        while True:
            try:
                if httpx.get(f"{api}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"kraliki serve did not start: {server.returncode}")
            time.sleep(0.2)
        trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
        traced = {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
        assert httpx.get(f"{api}/readyz", headers=traced).status_code == 200
        assert httpx.get(f"{api}/metrics").status_code == 404  # moved to its own port
        metrics = f"http://127.0.0.1:{metrics_port}/metrics"
        assert httpx.get(metrics).status_code == 401
        scraped = httpx.get(metrics, headers={"Authorization": f"Bearer {TOKEN}"})
        assert scraped.status_code == 200
        assert 'route="/readyz",status="200"' in scraped.text
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=60)
    assert server.returncode == 0, stderr  # a stop asked for and carried out
    assert "Application shutdown complete." in stderr
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert lines, stderr
    assert len(lines) == len(stderr.splitlines()), "every log line is JSON"
    access = [x for x in lines if x["logger"] == "uvicorn.access" and "/readyz" in x["message"]]
    assert access
    assert access[0]["trace_id"] == trace_id
