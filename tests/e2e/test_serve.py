"""`kraliki migrate` + `kraliki serve` as `make run` does, over real HTTP on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from kernel.testing import free_port

KRALIKI = str(Path(sys.executable).parent / "kraliki")


def serve(env: dict[str, str], port: int, cwd: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [KRALIKI, "serve", "--port", str(port)],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_ready(port: int, process: subprocess.Popen[str]) -> httpx.Response:
    deadline = time.monotonic() + 90  # generous: CI machines run tests in parallel
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited: {process.stdout.read() if process.stdout else ''}")
        try:
            return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
        except httpx.TransportError:
            time.sleep(0.2)
    pytest.fail("server did not answer within 90 s")


def stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    output, _ = process.communicate(timeout=15)
    return output


@pytest.mark.own_sqlite_database
def test_migrate_then_serve_with_a_one_time_operator_password(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("KRALIKI_")}
    env["KRALIKI_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'var' / 'kraliki.db'}"
    migrated = subprocess.run(
        [KRALIKI, "migrate"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert migrated.returncode == 0, migrated.stderr

    port = free_port()
    first = serve(env, port, cwd=tmp_path)  # like `make run`: the key file lands in ./var
    try:
        ready = wait_ready(port, first)
        assert ready.status_code == 200, ready.text
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"status": "ok"}
        missing = httpx.get(f"http://127.0.0.1:{port}/api/v1/system/plugins")
        assert missing.status_code == 401
        assert missing.headers["content-type"] == "application/problem+json"
    finally:
        output = stop(first)
    assert output.count("generated password (shown only now):") == 1
    assert output.count("GENERATED A NEW VAULT MASTER KEY") == 1
    key_file = tmp_path / "var" / "master.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = key_file.read_text()

    second = serve(env, port, cwd=tmp_path)
    try:
        assert wait_ready(port, second).status_code == 200
    finally:
        output = stop(second)
    assert "generated password" not in output
    assert "GENERATED A NEW VAULT MASTER KEY" not in output
    assert key_file.read_text() == key


@pytest.mark.own_sqlite_database
def test_serve_on_an_unmigrated_database_says_to_migrate(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("KRALIKI_")}
    env["KRALIKI_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    result = subprocess.run(
        [KRALIKI, "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "Run `kraliki migrate` first" in result.stderr
    assert "Traceback" not in result.stderr
