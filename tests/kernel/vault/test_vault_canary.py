"""The canary: a known key goes through every path that touches it (store, replace, list,
validate against a provider that accepts, refuses and fails, use by a plugin route that logs
and errors, rotation, audit, metrics), then logs, traces, error bodies, API answers and the
database are searched for it. The only place it may appear is the provider it was meant for.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import uuid
from pathlib import Path

import pytest
import stamina
from fastapi import APIRouter, Depends
from flaky_upstream import Reply
from prometheus_client import generate_latest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from kernel import (
    Permission,
    PlatformDep,
    Principal,
    SecretCheck,
    SecretSpec,
    ValidationResult,
    require,
)
from kernel._observability.logging import ConsoleFormatter, ContextFilter, JsonFormatter
from kernel._vault import rotation

from .conftest import SECRETS

CANARY = f"sk_canary_{uuid.uuid4().hex}"
NAME = "canary.api_key"
logger = logging.getLogger("canary.plugin")


@pytest.fixture
def kraliki_extra_plugins(make_plugin, upstream):
    async def ask_provider(check: SecretCheck) -> ValidationResult:
        await check.platform.resilience.request(
            "canary-provider",
            "GET",
            f"{upstream.url}/v1/me",
            headers={"Authorization": f"Bearer {check.value.reveal()}"},
        )
        return ValidationResult(True, "accepted")

    router = APIRouter()
    use = Depends(require("canary.calls", "create"))

    @router.post("/use")
    async def use_the_key(platform: PlatformDep, principal: Principal = use) -> dict[str, bool]:
        key = await platform.vault.reveal(NAME, plugin="canary", purpose="use", principal=principal)
        assert key is not None
        # The mistakes a plugin author makes: the value as a log argument, in extras.
        logger.info("calling the provider with %s", key, extra={"api_key": key.reveal()})
        logger.warning("auth", extra={"authorization": f"Bearer {key.reveal()}", "key": key})
        await platform.resilience.request(
            "canary-provider",
            "POST",
            f"{upstream.url}/v1/calls",
            headers={"Authorization": f"Bearer {key.reveal()}"},
        )
        return {"ok": True}

    @router.post("/fail")
    async def fail_with_the_key(platform: PlatformDep, principal: Principal = use) -> None:
        key = await platform.vault.reveal(
            NAME, plugin="canary", purpose="fail", principal=principal
        )
        raise RuntimeError(f"provider said no to {key}")

    return [
        make_plugin(
            "canary",
            permissions=[Permission("canary.calls", "create", "Use the key.", ("admin",))],
            routers=[router],
            vault_secrets=lambda: [SecretSpec(NAME, "The canary.", validator=ask_provider)],
        )
    ]


@pytest.fixture
def log_output():
    """Everything logged, at DEBUG, through both production formatters."""
    stream = io.StringIO()
    handlers = []
    for formatter in (JsonFormatter(), ConsoleFormatter()):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        handler.addFilter(ContextFilter())
        handlers.append(handler)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)
    for handler in handlers:
        root.addHandler(handler)
    try:
        yield stream
    finally:
        for handler in handlers:
            root.removeHandler(handler)
        root.setLevel(level)


def sqlite_files(path: str) -> str:
    """The database file and its write-ahead log, byte for byte."""
    files = [Path(path + suffix) for suffix in ("", "-wal")]
    return "".join(f.read_bytes().decode("latin-1") for f in files if f.exists())


async def database_dump(platform, database, tenant_ids) -> str:
    """Every row of every table, as text; on PostgreSQL as the owner role, once per tenant
    (RLS is forced even for the owner) and once without a tenant."""
    if database.dialect == "sqlite":
        return sqlite_files(database.url.split(":///", 1)[1])
    engine = create_async_engine(
        database.owner_url,
        poolclass=NullPool,
        connect_args={"server_settings": {"search_path": database.schema}},
    )
    dump = []
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        await connection.commit()
        for tenant in [None, *tenant_ids]:
            async with connection.begin():
                if tenant is not None:
                    await connection.execute(
                        text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant)}
                    )
                for table in tables:
                    rows = await connection.execute(text(f'SELECT t::text FROM "{table}" t'))
                    dump.extend(row[0] for row in rows)
    await engine.dispose()
    return "\n".join(dump)


@pytest.fixture(autouse=True)
def no_retry_waits():
    with stamina.set_testing(True, attempts=2, cap=True):
        yield


async def test_the_canary_never_leaks(
    kraliki_client,
    kraliki_platform,
    kraliki_database,
    kraliki_spans,
    make_org,
    upstream,
    log_output,
    caplog,
):
    caplog.set_level(logging.DEBUG)
    org = await make_org("alpha")
    other = await make_org("beta")
    answers = []

    async def call(method: str, path: str, **kwargs):
        response = await kraliki_client.request(method, path, headers=org.admin, **kwargs)
        answers.append(response)
        return response

    secret = f"{SECRETS}/{NAME}"
    assert (await call("PUT", secret, json={"value": CANARY})).status_code == 201
    assert (await call("PUT", secret, json={"value": CANARY})).status_code == 200
    assert (await call("PUT", secret, json={"value": " " + CANARY})).status_code == 422
    assert (await call("PUT", secret, json={"value": CANARY, "x": CANARY})).status_code == 422
    assert (await call("PUT", f"{SECRETS}/canary.other", json={"value": CANARY})).status_code == 404
    assert (await call("PUT", secret, content=b'{"value": "' + CANARY.encode())).status_code == 422
    for path in (SECRETS, secret, "/api/v1/vault/declarations", "/api/v1/vault/keys"):
        assert (await call("GET", path)).status_code == 200
    assert (await call("POST", f"{secret}/validate")).json()["status"] == "valid"
    upstream.then(Reply(401, body=b'{"error": "invalid key"}'))
    assert (await call("POST", f"{secret}/validate")).json()["status"] == "invalid"
    upstream.always(Reply(503, body=b"down"))
    assert (await call("POST", f"{secret}/validate")).json()["status"] == "unreachable"
    upstream.always(Reply(200))
    assert (await call("POST", "/api/v1/canary/use")).status_code == 200
    assert (await call("POST", "/api/v1/canary/fail")).status_code == 500
    assert (await call("POST", "/api/v1/vault/keys/rotate")).status_code == 200
    await rotation.rotate_kek(kraliki_platform.vault)
    assert (await call("POST", "/api/v1/canary/use")).status_code == 200
    for path in ("/api/v1/vault/audit", "/api/v1/audit", "/api/v1/resilience/breakers"):
        assert (await call("GET", path)).status_code == 200
    cross = await kraliki_client.get(secret, headers=other.admin)
    answers.append(cross)

    # The key did reach the upstream, as the Authorization header, and only there.
    assert any(hit.headers.get("authorization") == f"Bearer {CANARY}" for hit in upstream.received)
    places = {
        "API answers and error bodies": "\n".join(
            f"{r.status_code} {dict(r.headers)} {r.text}" for r in answers
        ),
        "logs": log_output.getvalue() + caplog.text,
        "traces": json.dumps(
            [json.loads(span.to_json()) for span in kraliki_spans.get_finished_spans()]
        ),
        "metrics": generate_latest(kraliki_platform.metrics.registry).decode(),
        "database": await database_dump(kraliki_platform, kraliki_database, [org.id, other.id]),
    }
    assert len(kraliki_spans.get_finished_spans()) > 20  # the traces were recorded
    assert "calling the provider with" in places["logs"]  # the plugin's lines were captured
    # The stored row was read (its fingerprint is in the dump), only the value is absent.
    assert hashlib.sha256(CANARY.encode()).hexdigest()[:12] in places["database"]
    leaks = [where for where, text_ in places.items() if CANARY in text_]
    assert leaks == [], f"the canary leaked into: {leaks}"
