"""Two real `kraliki serve` processes against one database and one Redis behave as one
platform: a tenant's rate limit, a login throttle and a circuit breaker (forced open through
the admin API in one, opened by failures elsewhere) hold in both."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from kernel._metrics import Metrics
from kernel._resilience.breakers import Breakers
from kernel._shared.store import SharedStore
from kernel.testing import free_port

from .conftest import drop_keys

KRALIKI = str(Path(sys.executable).parent / "kraliki")

API = "/api/v1"
PASSWORD = "a long enough password"


class Output:
    """A server's log lines (JSON), read as they come (so its pipe never fills)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        threading.Thread(target=self._read, args=(process,), daemon=True).start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line)

    def records(self) -> list[dict[str, object]]:
        found = []
        for line in list(self.lines):
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
        return found


def register(client: httpx.Client, slug: str) -> str:
    response = client.post(
        f"{API}/auth/register",
        json={
            "organization": slug.title(),
            "slug": slug,
            "email": f"owner@{slug}.example.com",
            "password": PASSWORD,
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["access_token"])


def wait_until_ready(port: int, output: Output, within: float = 120) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail("a server did not start:\n" + "".join(output.lines[-40:]))


def with_breakers(redis_url: str, prefix: str, action) -> object:
    """Act on the breakers from a third process (this one), as a worker would."""

    async def run() -> object:
        store = SharedStore(
            Redis.from_url(redis_url, decode_responses=True),
            prefix=prefix,
            retry_seconds=5,
            metrics=Metrics(),
        )
        try:
            breakers = Breakers(threshold=2, reset_seconds=60, metrics=Metrics(), shared=store)
            return await action(breakers)
        finally:
            await store.aclose()

    return asyncio.run(run())


@pytest.mark.own_sqlite_database
def test_two_servers_share_limits_throttles_and_breakers(tmp_path: Path, redis_url, redis_prefix):
    env = {key: value for key, value in os.environ.items() if not key.startswith("KRALIKI_")}
    env |= {
        "KRALIKI_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'kraliki.db'}",
        "KRALIKI_LOG_FORMAT": "json",
        "KRALIKI_MASTER_KEY_FILE": str(tmp_path / "master.key"),
        "KRALIKI_REDIS_URL": redis_url,
        "KRALIKI_REDIS_PREFIX": redis_prefix,
        "KRALIKI_SIGNUP_ENABLED": "true",
        "KRALIKI_RATE_LIMIT_TENANT_PER_MINUTE": "60",  # one a second, burst 7
        "KRALIKI_LOGIN_MAX_FAILURES_PER_ACCOUNT": "3",
        "KRALIKI_BREAKER_FAILURE_THRESHOLD": "2",
        "KRALIKI_BREAKER_RESET_SECONDS": "60",
    }
    migrated = subprocess.run(
        [KRALIKI, "migrate"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert migrated.returncode == 0, migrated.stderr
    ports = [free_port(), free_port()]
    processes = [
        subprocess.Popen(
            [KRALIKI, "serve", "--workers", "1", "--port", str(port), "--no-bootstrap"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for port in ports
    ]
    outputs = [Output(process) for process in processes]
    try:
        for port, output in zip(ports, outputs, strict=True):
            wait_until_ready(port, output)
        a, b = (httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) for port in ports)

        # (a) One tenant's requests, split between the two servers, share one allowance.
        acme = {"Authorization": f"Bearer {register(a, 'acme')}"}
        statuses = [(a if i % 2 else b).get(f"{API}/auth/me", headers=acme) for i in range(20)]
        answered = [r.status_code for r in statuses]
        assert set(answered) == {200, 429}
        # 7 at once (8 or 9 if a second or two passed), where per-worker limits allow 14.
        assert 7 <= answered.count(200) <= 9, answered
        refused_by = {str(r.url.port) for r in statuses if r.status_code == 429}
        assert refused_by == {str(port) for port in ports}

        # (b) Failed logins on one server throttle the account on the other.
        login = {"tenant": "acme", "email": "owner@acme.example.com"}
        for _ in range(3):
            failed = a.post(f"{API}/auth/login", json=login | {"password": "wrong password!"})
            assert failed.status_code == 401
        throttled = b.post(f"{API}/auth/login", json=login | {"password": PASSWORD})
        assert throttled.status_code == 429
        assert int(throttled.headers["Retry-After"]) > 0

        # (c) A breaker forced open through the admin API of one server is open in the other.
        beta = {"Authorization": f"Bearer {register(b, 'beta')}"}
        tenant_id = uuid.UUID(a.get(f"{API}/auth/me", headers=beta).json()["tenant"]["id"])

        async def call_relay(breakers: Breakers) -> None:
            guard = await breakers.enter(tenant_id, "relay")
            await guard.succeeded()

        with_breakers(redis_url, redis_prefix, call_relay)
        forced = a.post(f"{API}/resilience/breakers/relay/open", headers=beta)
        assert forced.status_code == 200, forced.text
        [seen] = b.get(f"{API}/resilience/breakers", headers=beta).json()["items"]
        assert (seen["dependency"], seen["state"]) == ("relay", "forced_open")

        # ... and one that failures opened (in a third process) is open in both.
        reset = b.post(f"{API}/resilience/breakers/relay/reset", headers=beta)
        assert reset.json()["state"] == "closed"

        async def fail_relay(breakers: Breakers) -> None:
            for _ in range(2):
                guard = await breakers.enter(tenant_id, "relay")
                await guard.failed(TimeoutError())

        with_breakers(redis_url, redis_prefix, fail_relay)
        for client in (a, b):
            [seen] = client.get(f"{API}/resilience/breakers", headers=beta).json()["items"]
            assert (seen["state"], seen["failure_count"]) == ("open", 2)
        a.close()
        b.close()
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=90)

        async def clean() -> None:
            redis = Redis.from_url(redis_url, decode_responses=True)
            await drop_keys(redis, redis_prefix)
            await redis.aclose()

        asyncio.run(clean())
    for output in outputs:
        warnings = [r for r in output.records() if r.get("logger") == "kraliki.shared"]
        assert warnings == [], warnings  # Redis answered throughout
