"""``kraliki serve`` told to stop (SIGTERM) while real-time clients are connected: the SSE
client gets its ``close`` event, the WebSocket client 1001, and the process exits at once
with status 0 (one worker, several, and with the metrics port); nothing waits for the
graceful-stop bound, which is set far above the test's patience."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from kernel import Tenant, tenant_scope
from kernel._identity.provisioning import add_user
from kernel._migrations import upgrade
from kernel._platform import build_platform, resolve_plugins
from kernel._serve import api_config
from kernel.testing import DEFAULT_TEST_PASSWORD, TestDatabase, free_port

KRALIKI = str(Path(sys.executable).parent / "kraliki")
STARTUP = 90.0
"""A busy CI machine imports slowly."""
PROMPTLY = 15.0
"""How long the clients and the process may take to be told and to stop, on a busy machine
(it takes well under a second; the graceful-stop bound, which must not be what ends it, is
set to 120 s, and without the fix the SSE response would never end)."""


async def an_agent(database: TestDatabase) -> None:
    """Migrate (the kernel alone) and add a tenant ``acme`` with an agent."""
    settings = database.settings(plugins=[])
    await upgrade(settings, resolve_plugins(settings))
    platform = build_platform(settings)
    try:
        async with platform.database.session() as session:
            tenant = Tenant(slug="acme", name="Acme")
            session.add(tenant)
            await session.commit()
        with tenant_scope(tenant.id):
            async with platform.database.session() as session:
                email, password = "agent@acme.test", DEFAULT_TEST_PASSWORD
                await add_user(session, email=email, password=password, roles=["agent"])
                await session.commit()
    finally:
        await platform.database.dispose()
        platform.tracing.shutdown()


class Served:
    """``kraliki serve`` in a subprocess, its output collected as it comes."""

    def __init__(self, database: TestDatabase, args: list[str], env: dict[str, str]) -> None:
        self.port = free_port()
        environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("KRALIKI_", "OTEL_"))},
            "KRALIKI_DATABASE_URL": database.url,
            "KRALIKI_MASTER_KEY": database.master_key,
            "KRALIKI_JWT_SECRET": "a-signing-key-every-worker-shares-0123456789",
            "KRALIKI_PLUGINS": "",
            "KRALIKI_BACKGROUND_WORKERS": "false",
            "KRALIKI_SHUTDOWN_TIMEOUT_SECONDS": "120",
            "KRALIKI_LOG_FORMAT": "console",
            **({"KRALIKI_DATABASE_SCHEMA": database.schema} if database.schema else {}),
            **env,
        }
        self.process = subprocess.Popen(
            [KRALIKI, "serve", "--port", str(self.port), "--no-bootstrap", *args],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    async def started(self, workers: int) -> None:
        deadline = time.monotonic() + STARTUP
        listening = f"Uvicorn running on http://127.0.0.1:{self.port}"  # after the startup
        while self.output.count("Application startup complete") < workers or (
            listening not in self.output
        ):
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"kraliki serve did not start:\n{self.output}")
            await asyncio.sleep(0.05)

    async def exited(self, within: float) -> int:
        deadline = time.monotonic() + within
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                pytest.fail(f"kraliki serve did not stop within {within} s:\n{self.output}")
            await asyncio.sleep(0.02)
        return self.process.returncode

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)


@pytest.mark.parametrize(
    ("args", "env", "workers"),
    [
        ([], {}, 1),
        (["--workers", "2"], {}, 2),
        ([], {"KRALIKI_METRICS_PORT": str(free_port())}, 1),
    ],
    ids=["one-worker", "two-workers", "metrics-port"],
)
async def test_sigterm_closes_real_time_clients_and_exits(kraliki_database, args, env, workers):
    await an_agent(kraliki_database)
    served = Served(kraliki_database, args, env)
    try:
        await served.started(workers)
        url = f"http://127.0.0.1:{served.port}"
        async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=PROMPTLY) as http:
            body = {"email": "agent@acme.test", "password": DEFAULT_TEST_PASSWORD, "tenant": "acme"}
            token = (await http.post("/api/v1/auth/login", json=body)).json()["access_token"]
            async with (
                http.stream(
                    "GET",
                    "/api/v1/realtime/sse",
                    params={"events": "*"},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=httpx.Timeout(PROMPTLY, read=None),
                ) as sse,
                connect(
                    url.replace("http", "ws") + "/api/v1/realtime",
                    subprotocols=["kraliki.v1", f"bearer.{token}"],  # type: ignore[list-item]
                    proxy=None,
                    open_timeout=PROMPTLY,
                ) as ws,
            ):
                assert sse.status_code == 200
                lines = sse.aiter_lines()
                assert await anext(lines) == "event: ready"
                await ws.send(json.dumps({"type": "subscribe", "patterns": ["*"]}))
                assert json.loads(await ws.recv())["type"] == "ready"

                served.process.send_signal(signal.SIGTERM)
                async with asyncio.timeout(PROMPTLY):
                    rest = [line async for line in lines]
                    said = [json.loads(message) async for message in ws]  # until a clean close
                status = await served.exited(within=PROMPTLY)
    finally:
        served.stop()
    close = [json.loads(line.removeprefix("data: ")) for line in rest if line.startswith("data:")]
    assert "event: close" in rest, served.output
    assert close[-1] == {"type": "error", "code": 1001, "message": "server shutting down"}
    assert [m for m in said if m["type"] != "heartbeat"] == [close[-1]]
    assert ws.close_code == 1001
    assert status == 0, served.output
    assert "Waiting for connections to close" not in served.output
    assert served.output.count("Application shutdown complete") == workers


def test_the_graceful_stop_is_bounded_by_the_setting(kraliki_database):
    settings = kraliki_database.settings(shutdown_timeout_seconds=3)
    assert api_config(settings).timeout_graceful_shutdown == 3
