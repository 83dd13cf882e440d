"""The NATS JetStream event transport (``KRALIKI_EVENT_TRANSPORT=nats``), with two processes
on one database: a peer server process (``nats_peer.py``) publishes, dispatches and relays;
the test's own server (``hub_site``) runs no dispatcher, no relay and no LISTEN, and sweeps
the outbox only every 30 s, so whatever reaches its subscribers sooner came through NATS.

Opt in with ``KRALIKI_TEST_NATS_URL`` (a NATS server with JetStream) on PostgreSQL; each test
has a stream and a subject prefix of its own, deleted at the end."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nats
import nats.js.errors
import pytest
from realtime_support import WAIT, Site, events, nothing_more, running_site, subscribe

from kernel._events.nats import encode
from kernel._events.types import DeliveredEvent
from kernel._models import utcnow
from kernel.testing import free_port

NATS_URL = os.environ.get("KRALIKI_TEST_NATS_URL")
HERE = Path(__file__).parent
JWT_SECRET = "a-signing-key-every-worker-shares-0123456789"
STARTUP = 90.0

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(not NATS_URL, reason="needs NATS JetStream (set KRALIKI_TEST_NATS_URL)"),
]


@pytest.fixture
async def nats_names() -> AsyncIterator[dict[str, str]]:
    """This test's NATS settings: its own stream and subjects (tests run in parallel)."""
    assert NATS_URL is not None
    tag = uuid.uuid4().hex[:12]
    names = {
        "nats_url": NATS_URL,
        "nats_stream": f"KRALIKI_TEST_{tag}",
        "nats_subject_prefix": f"kraliki.test{tag}.events",
    }
    yield names
    client = await nats.connect(NATS_URL)
    try:
        await client.jetstream().delete_stream(names["nats_stream"])
    except nats.js.errors.NotFoundError:
        pass
    finally:
        await client.close()


@pytest.fixture
async def hub_site(kraliki_make_app: Any, nats_names: dict[str, str]) -> AsyncIterator[Site]:
    """The subscribers' server: NATS transport, no background workers, a 30 s sweep."""
    async with running_site(
        kraliki_make_app,
        event_transport="nats",
        background_workers=False,
        realtime_heartbeat_seconds=30,
        jwt_secret=JWT_SECRET,
        **nats_names,
    ) as site:
        yield site


def peer_env(database: Any, nats_names: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KRALIKI_", "OTEL_"))}
    env |= {
        "KRALIKI_DATABASE_URL": database.url,
        "KRALIKI_MASTER_KEY": database.master_key,
        "KRALIKI_JWT_SECRET": JWT_SECRET,
        "KRALIKI_EVENT_TRANSPORT": "nats",
        "KRALIKI_NATS_URL": nats_names["nats_url"],
        "KRALIKI_NATS_STREAM": nats_names["nats_stream"],
        "KRALIKI_NATS_SUBJECT_PREFIX": nats_names["nats_subject_prefix"],
        "KRALIKI_LOG_FORMAT": "console",
    }
    if database.schema:
        env["KRALIKI_DATABASE_SCHEMA"] = database.schema
    return env


@dataclass
class Peer:
    """The other server process: publishes through its own API, as the given account."""

    url: str
    site: Site

    async def publish(self, who: str, **body: Any) -> list[str]:
        async with httpx.AsyncClient(base_url=self.url, trust_env=False, timeout=WAIT) as http:
            response = await http.post(
                "/api/v1/rt/publish", headers=self.site.accounts[who].headers, json=body
            )
        assert response.status_code == 200, response.text
        ids: list[str] = response.json()
        return ids


def start_peer(port: int, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("w") as output:
        return subprocess.Popen(
            [sys.executable, str(HERE / "nats_peer.py"), "serve", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


@pytest.fixture
async def peer(
    hub_site: Site, kraliki_database: Any, nats_names: dict[str, str], tmp_path: Path
) -> AsyncIterator[Peer]:
    port = free_port()
    log = tmp_path / "peer.log"
    process = start_peer(port, log, peer_env(kraliki_database, nats_names))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP
        async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=2) as http:
            while True:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the peer did not start:\n{log.read_text()}")
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        yield Peer(url, hub_site)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


async def stream_messages(nats_names: dict[str, str]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every message of the test's stream: (subject, Nats-Msg-Id, body)."""
    client = await nats.connect(nats_names["nats_url"])
    try:
        js = client.jetstream()
        stream = nats_names["nats_stream"]
        state = (await js.stream_info(stream)).state
        found = []
        for seq in range(state.first_seq, state.last_seq + 1) if state.messages else ():
            message = await js.get_msg(stream, seq)
            assert message.headers is not None
            found.append(
                (message.subject, message.headers["Nats-Msg-Id"], json.loads(message.data))
            )
        return found
    finally:
        await client.close()


async def test_events_published_on_one_server_reach_another_servers_subscribers(
    hub_site, peer, nats_names
):
    async with hub_site.ws("alpha-admin") as ws, hub_site.sse("alpha-agent", ["rt.*"]) as sse:
        await subscribe(ws, ["*"])
        assert (await sse.next())["event"] == "ready"
        ids = await peer.publish("alpha-admin", count=30, label="peer")
        ids += await peer.publish("alpha-agent", count=5, label="again")
        received = await events(ws, 35)
        assert [e["id"] for e in received] == ids
        assert [e["position"] for e in received] == list(range(1, 36))
        assert received[0]["data"] == {"label": "peer", "n": 0, "pad": ""}
        assert [frame["id"] for frame in await sse.events(35)] == ids
        await nothing_more(ws)
    # Every event went through the stream once, in order, on its tenant's and type's subject.
    messages = await stream_messages(nats_names)
    assert [message_id for _, message_id, _ in messages] == ids
    alpha = hub_site.tenants["alpha"]
    prefix = nats_names["nats_subject_prefix"]
    assert {subject for subject, _, _ in messages} == {f"{prefix}.{alpha}.rt.thing.done"}


async def test_tenants_and_permissions_stay_apart_over_nats(hub_site, peer, nats_names):
    async with (
        hub_site.ws("alpha-admin") as alpha_admin,
        hub_site.ws("alpha-agent") as alpha_agent,
        hub_site.ws("beta-admin") as beta_admin,
        hub_site.sse("beta-agent", ["*"]) as beta_agent,
    ):
        for ws in (alpha_admin, alpha_agent, beta_admin):
            await subscribe(ws, ["*"])
        assert (await beta_agent.next())["event"] == "ready"
        b_things = await peer.publish("beta-admin", count=10, label="beta")
        b_secrets = await peer.publish("beta-admin", kind="secret", count=3, label="beta")
        # A message forged onto alpha's subject with beta's event is dropped by the
        # receiver (it checks the subject's tenant against the event's).
        client = await nats.connect(nats_names["nats_url"])
        try:
            forged = DeliveredEvent(
                id=uuid.uuid4(),
                tenant_id=hub_site.tenants["beta"],
                name="rt.thing.done",
                version=1,
                occurred_at=utcnow(),
                aggregate="rt.thing:forged",
                payload={"label": "forged", "n": 0, "pad": ""},
                position=14,
            )
            subject = f"{nats_names['nats_subject_prefix']}.{hub_site.tenants['alpha']}.rt.x.y"
            await client.jetstream().publish(subject, encode(forged))
        finally:
            await client.close()
        a_things = await peer.publish("alpha-agent", count=2, label="alpha")
        a_secrets = await peer.publish("alpha-admin", kind="secret", count=1, label="alpha")

        beta_seen = await events(beta_admin, 13)
        assert [e["id"] for e in beta_seen] == b_things + b_secrets
        assert {e["tenant_id"] for e in beta_seen} == {str(hub_site.tenants["beta"])}
        assert [f["id"] for f in await beta_agent.events(10)] == b_things  # no secrets
        alpha_seen = await events(alpha_admin, 3)
        assert [e["id"] for e in alpha_seen] == a_things + a_secrets
        assert [e["position"] for e in alpha_seen] == [1, 2, 3]
        assert [e["id"] for e in await events(alpha_agent, 2)] == a_things
        for ws in (alpha_admin, alpha_agent, beta_admin):
            await nothing_more(ws)


async def run_peer(database: Any, nats_names: dict[str, str], *args: str) -> tuple[int, str, str]:
    """``nats_peer.py dispatch ...``: (exit status, its report on stdout, its log)."""
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(HERE / "nats_peer.py"), "dispatch", *args],
        env=peer_env(database, nats_names),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize("crash", ["after-commit", "after-publish"])
async def test_a_relay_killed_between_commit_and_relay_delivers_each_event_once(
    hub_site, kraliki_database, nats_names, crash
):
    """A worker dies (os._exit) after committing a dispatch: before relaying anything, or
    after JetStream took the events but before its relay cursor moved. The next worker's
    relay publishes from the cursor: subscribers get every event exactly once, in order, and
    the stream holds each once (JetStream drops the re-relayed ones by ``Nats-Msg-Id``)."""
    async with hub_site.ws("alpha-admin") as ws:
        await subscribe(ws, ["*"])
        ids = await hub_site.publish("alpha-admin", count=20)  # committed; nobody dispatches
        status, _, log = await run_peer(kraliki_database, nats_names, crash)
        assert status == 9, log
        received = []
        if crash == "after-commit":
            await nothing_more(ws, within=1.0)  # dispatched, never relayed
            assert await stream_messages(nats_names) == []
        else:
            received = await events(ws, 20)  # relayed before the crash

        status, report_line, log = await run_peer(kraliki_database, nats_names)
        assert status == 0, log
        report = json.loads(report_line)
        assert report["dispatched"] == 0
        if crash == "after-commit":
            assert (report["published"], report["duplicate"]) == (20, 0)
            received = await events(ws, 20)
        else:
            assert (report["published"], report["duplicate"]) == (0, 20)
        await nothing_more(ws, within=1.0)
    assert [e["id"] for e in received] == ids
    assert [e["position"] for e in received] == list(range(1, 21))
    assert [message_id for _, message_id, _ in await stream_messages(nats_names)] == ids


async def test_one_process_dispatching_relaying_and_serving(kraliki_make_app, nats_names):
    """The worker that dispatches hands the events to its own hub directly and relays them:
    its subscribers get each once (the stream's copy is skipped), and the stream has all."""
    async with running_site(
        kraliki_make_app, event_transport="nats", realtime_heartbeat_seconds=30, **nats_names
    ) as site:
        async with site.ws("alpha-admin") as ws, site.ws("beta-admin") as beta:
            await subscribe(ws, ["*"])
            await subscribe(beta, ["*"])
            ids = await site.publish("alpha-admin", count=25)
            assert [e["id"] for e in await events(ws, 25)] == ids
            await nothing_more(ws, within=0.5)
            await nothing_more(beta, within=0.1)
        async with asyncio.timeout(WAIT):
            while len(messages := await stream_messages(nats_names)) < 25:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        assert [message_id for _, message_id, _ in messages] == ids
