"""`kraliki serve --workers 2`: no worker is replaced while it starts under a burst of
requests, and a worker that is replaced is reported at WARNING with the reason."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from kernel.testing import free_port

KRALIKI = str(Path(sys.executable).parent / "kraliki")
STARTED = re.compile(r"Started server process \[(\d+)\]")


class Output:
    """The server's log lines (JSON), read as they come."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._reader.start()

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

    def worker_pids(self) -> list[int]:
        return [int(m[1]) for r in self.records() if (m := STARTED.search(str(r["message"])))]

    def wait_for(self, predicate: object, within: float = 180) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if predicate():  # type: ignore[operator]
                return
            time.sleep(0.1)
        pytest.fail("timed out; the server said:\n" + "".join(self.lines[-40:]))


def burst(port: int, stop: threading.Event, answered: list[int]) -> None:
    """Requests from the first moment, as a load balancer's clients would send them."""
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        while not stop.is_set():
            for path in ("/healthz", "/readyz", "/api/v1/system/plugins"):
                try:
                    answered.append(client.get(path).status_code)
                except httpx.TransportError:
                    time.sleep(0.05)


@pytest.mark.own_sqlite_database
def test_workers_survive_a_startup_burst_and_a_replaced_worker_is_reported(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("KRALIKI_")}
    env |= {
        "KRALIKI_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'kraliki.db'}",
        "KRALIKI_LOG_FORMAT": "json",
        "KRALIKI_MASTER_KEY_FILE": str(tmp_path / "master.key"),
    }
    migrated = subprocess.run(
        [KRALIKI, "migrate"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    process = subprocess.Popen(
        [KRALIKI, "serve", "--workers", "2", "--port", str(port), "--no-bootstrap"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = Output(process)
    try:
        # A burst of requests (four clients) while both workers start, and past it.
        stop, answered = threading.Event(), list[int]()
        clients = [threading.Thread(target=burst, args=(port, stop, answered)) for _ in range(4)]
        for client in clients:
            client.start()
        try:
            output.wait_for(lambda: sum("startup complete" in line for line in output.lines) >= 2)
            time.sleep(3)
        finally:
            stop.set()
            for client in clients:
                client.join()
        assert 200 in answered
        assert len(output.worker_pids()) == 2, "a worker was replaced:\n" + "".join(output.lines)
        assert not [r for r in output.records() if r["logger"] == "kraliki.serve"]

        # A worker that dies is replaced, and the supervisor says so at WARNING, with why.
        victim = output.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        output.wait_for(lambda: len(output.worker_pids()) == 3)
        [warning] = [r for r in output.records() if r["logger"] == "kraliki.serve"]
        assert warning["level"] == "WARNING"
        assert f"API worker [{victim}] was killed by SIGKILL" in str(warning["message"])
        assert warning["worker_pid"] == victim
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=90)
    assert process.returncode == 0
