"""Cross-tenant isolation through HTTP, for every registered route (runs on both databases;
on PostgreSQL as the unprivileged app role, so RLS is in force underneath).

Tenants A and B get data in every tenant-owned table (through the API, the way a frontend
would). Then every route of the app is called with A's owner credentials, with B's ids in
its path and body: nothing of B may be read, listed, changed or deleted. The walk reads the
app's route registry, so a new plugin's routes are walked without touching this file; a new
tenant-owned table must get rows here (the test says which tables stayed empty).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

import pytest
from agent_assist_seeds import core as agent_assist_core
from agents_seeds import core as agents_core
from ai_seeds import core as ai_core
from campaigns_seeds import core as campaigns_core
from contacts_seeds import compliance as contacts_compliance
from contacts_seeds import core as contacts_core
from contacts_seeds import imports as contacts_imports
from contacts_seeds import segments as contacts_segments
from contacts_seeds import timeline as contacts_timeline
from fastapi import APIRouter, Depends, Request, Response
from payments_seeds import core as payments_core
from pydantic import BaseModel
from queues_seeds import core as queues_core
from sentiment_seeds import core as sentiment_core
from sqlalchemy import text
from suite_plugins import suite_plugins
from summaries_seeds import core as summaries_core
from supervisor_seeds import alerts as supervisor_alerts
from supervisor_seeds import core as supervisor_core

from kernel import (
    Event,
    IdempotencyKeyHeader,
    Permission,
    PlatformDep,
    Principal,
    SecretSpec,
    SessionDep,
    ValidationResult,
    current_tenant_id,
    require,
)
from kernel._events.models import EventRelayCursor
from kernel._operators import PlatformOperator
from kernel._passwords import hash_password
from kernel.testing import app_client, assert_tenant_isolation, login, tenant_models, tenant_rows
from plugins.calls.testing import fakeline_plugin, fakeline_webhook

PASSWORD = "walker password 123"
OPERATOR = ("ops@platform.example.com", "operator password 123")


@pytest.fixture(autouse=True)
def webhooks_may_call_loopback(monkeypatch):
    """The seeded webhook endpoints point at this machine (an operator's allowance); the walk
    sends more requests in a minute than an organization's default rate limit allows. On a
    loaded machine a walk lasts minutes: the seeded calls (ringing legs among them) must not
    go stale meanwhile, or reconciliation would change B's rows during the walk."""
    monkeypatch.setenv("KRALIKI_WEBHOOKS_ALLOW_PRIVATE_NETWORKS", "true")
    monkeypatch.setenv("KRALIKI_RATE_LIMIT_TENANT_PER_MINUTE", "100000")
    for status in ("QUEUED", "RINGING", "IN_PROGRESS"):
        monkeypatch.setenv(f"KRALIKI_CALLS_STALE_{status}_SECONDS", "86400")


@pytest.fixture
def kraliki_installed_plugins(acme_distribution):
    return suite_plugins()


@pytest.fixture
def kraliki_extra_plugins(make_plugin):
    """A plugin using the vault, so that its tables get rows (one secret, one decryption)."""

    async def always_valid(check) -> ValidationResult:
        return ValidationResult(valid=check.value.reveal().startswith("wk_"))

    spec = SecretSpec("walkvault.api_key", "A key for the walk.", validator=always_valid)
    walk_read = Permission("walkvault.things", "read", "See the walk's events.", ("owner",))
    events = APIRouter()

    @events.post("/events", dependencies=[Depends(require("walkvault.things", "read"))])
    async def publish(request: Request, session: SessionDep) -> dict[str, str]:
        platform = request.app.state.platform
        event_id = await platform.events.publish(session, WalkThingDone(thing="seed"))
        # The NATS transport's relay cursor, which this app (PostgreSQL transport) never
        # writes: seeded so that the walk looks for it too.
        tenant_id = current_tenant_id()
        if await session.get(EventRelayCursor, tenant_id) is None:
            session.add(EventRelayCursor(tenant_id=tenant_id, position=0))
        await session.commit()
        await platform.dispatcher.drain()
        return {"id": str(event_id)}

    @events.post("/jobs", dependencies=[Depends(require("walkvault.things", "read"))])
    async def run_jobs(request: Request) -> dict[str, int]:
        """Run the due background jobs (the campaigns dialer's, so its attempts get rows)."""
        platform = request.app.state.platform
        return {"ran": await platform.jobs.run_due(platform)}

    @events.post("/orders", status_code=201)
    async def order(
        body: WalkOrder,
        session: SessionDep,
        platform: PlatformDep,
        idempotency_key: IdempotencyKeyHeader,
        principal: Annotated[Principal, Depends(require("walkvault.things", "read"))],
    ) -> Response:
        """An idempotent POST, so that the idempotency keys get rows."""
        async with platform.idempotency.claim(
            idempotency_key, scope="walkvault.order", request=body.model_dump(), principal=principal
        ) as claim:
            if claim.replay is not None:
                return claim.replay
            return await claim.complete(session, 201, {"thing": body.thing})

    return [
        fakeline_plugin(),
        make_plugin(
            "walkvault",
            vault_secrets=lambda: [spec],
            permissions=[walk_read],
            routers=[events],
            event_types=lambda: [WalkThingDone],
        ),
    ]


class WalkThingDone(Event):
    """An event of the walk's plugin, so the outbox and cursor tables get rows."""

    name = "walkvault.thing.done"
    permission = "walkvault.things:read"
    aggregate = "thing"

    thing: str


class WalkOrder(BaseModel):
    thing: str


CONTACTS_SEEDS = (
    contacts_core.seed,
    contacts_imports.seed,
    contacts_segments.seed,
    contacts_compliance.seed,
    contacts_timeline.seed,
)


class Tenant:
    def __init__(self, slug: str) -> None:
        self.slug = slug
        self.id: uuid.UUID
        self.headers: dict[str, str] = {}
        self.secrets: set[str] = set()  # values of this tenant that must never leak


async def _seed(client, operator: dict[str, str], slug: str) -> Tenant:
    tenant = Tenant(slug)
    created = await client.post(
        "/api/v1/tenants",
        headers=operator,
        json={
            "name": f"Org {slug}",
            "slug": slug,
            "owner_email": f"owner@{slug}.example.com",
            "owner_password": PASSWORD,
        },
    )
    assert created.status_code == 201, created.text
    tenant.id = uuid.UUID(created.json()["id"])
    tenant.headers = await login(client, f"owner@{slug}.example.com", PASSWORD, tenant=slug)
    h = tenant.headers
    calls = [
        ("POST", "/api/v1/users", {"email": f"agent@{slug}.example.com", "password": PASSWORD}),
        ("POST", "/api/v1/users", {"email": f"invitee@{slug}.example.com"}),
        ("POST", "/api/v1/roles", {"name": f"qa-{slug}", "permissions": ["users:read"]}),
        ("POST", "/api/v1/api-keys", {"name": f"crm-{slug}", "roles": ["integrator"]}),
        ("PATCH", "/api/v1/tenant", {"timezone": "Europe/Prague"}),
        ("POST", "/api/v1/blocklist/numbers", {"number": "+15550000" + str(len(slug) * 111)[:3]}),
        ("PUT", "/api/v1/vault/secrets/walkvault.api_key", {"value": f"wk_{slug}_secret"}),
        ("POST", "/api/v1/vault/secrets/walkvault.api_key/validate", None),
        ("POST", "/api/v1/walkvault/events", None),
    ]
    for method, path, body in calls:
        response = await client.request(method, path, headers=h, json=body)
        assert response.status_code in (200, 201), (path, response.text)
    ordered = await client.post(
        "/api/v1/walkvault/orders", headers={**h, "Idempotency-Key": "walk-1"}, json={"thing": "x"}
    )
    assert ordered.status_code == 201, ordered.text
    # A webhook endpoint, and a delivery with one attempt (nobody listens on port 9, so the
    # test send fails at once and is not retried: nothing changes during the walk).
    hook = await client.post(
        "/api/v1/webhooks/endpoints",
        headers=h,
        json={"url": f"http://127.0.0.1:9/{slug}", "event_types": ["webhooks.*"]},
    )
    assert hook.status_code == 201, hook.text
    tenant.secrets.add(hook.json()["secret"])
    tested = await client.post(f"/api/v1/webhooks/endpoints/{hook.json()['id']}/test", headers=h)
    assert tested.status_code == 200, tested.text
    agent = await login(client, f"agent@{slug}.example.com", PASSWORD, tenant=slug)
    await client.get("/api/v1/auth/me", headers=agent)  # a second login session
    await _seed_calls(client, tenant)
    await _seed_ivr(client, tenant)
    for seed in CONTACTS_SEEDS:
        await seed(client, tenant)
    await agents_core.seed(client, tenant)
    await queues_core.seed(client, tenant)
    await campaigns_core.seed(client, tenant)
    await supervisor_core.seed(client, tenant)
    await supervisor_alerts.seed(client, tenant)
    await ai_core.seed(client, tenant)
    await sentiment_core.seed(client, tenant)
    await summaries_core.seed(client, tenant)
    await agent_assist_core.seed(client, tenant)
    await payments_core.seed(client, tenant)
    return tenant


async def _seed_calls(client, tenant: Tenant) -> None:
    """A number, call settings, and a call with a recording and a transcript segment (its
    provider's signed webhooks fill the timeline and the receipts)."""
    h, secret = tenant.headers, f"fl_{tenant.slug}_signing"
    tenant.secrets.add(secret)
    digits = {"alpha": "11", "beta": "22"}.get(tenant.slug, "33")
    number = {"number": f"+141555501{digits}", "provider": "fakeline"}
    setup = [
        ("PUT", "/api/v1/vault/secrets/fakeline.signing_key", {"value": secret}),
        ("PUT", "/api/v1/calls/settings", {"primary_provider": "fakeline"}),
        ("POST", "/api/v1/calls/numbers", number),
        ("POST", "/api/v1/calls", {"to": "+14155550100"}),
    ]
    for method, path, body in setup:
        response = await client.request(method, path, headers=h, json=body)
        assert response.status_code in (200, 201), (path, response.text)
    sid = response.json()["provider_call_id"]
    events = [
        {"type": "progress", "call": sid, "status": "in-progress"},
        {
            "type": "recording",
            "call": sid,
            "recording": f"RE{digits}",
            "status": "completed",
            "duration": 3,
            "media": f"media-{tenant.slug}",
        },
        {"type": "transcript", "call": sid, "text": f"hello from {tenant.slug}"},
    ]
    hook = await fakeline_webhook(client, tenant.id, secret, events)
    assert hook.status_code == 200, hook.text
    # Dispatch what the call published now, so the walk finds B's outbox at rest.
    drained = await client.post("/api/v1/walkvault/events", headers=h)
    assert drained.status_code == 200, drained.text


IVR_FLOW = {
    "start": "menu",
    "nodes": {
        "menu": {
            "type": "menu",
            "greeting": "Welcome.",
            "options": [{"key": "1", "label": "sales"}],
            "exits": {"1": "sales", "no_input": "bye", "no_match": "bye"},
        },
        "sales": {"type": "transfer", "number": "+15551230001"},
        "bye": {"type": "hangup", "message": "Goodbye."},
    },
}


async def _seed_ivr(client, tenant: Tenant) -> None:
    """IVR settings, a flow with a saved test and a published version, and a call placed
    with the flow (answered, so the flow runs and keeps its state in a session row)."""
    h, secret = tenant.headers, f"fl_{tenant.slug}_signing"
    settings = await client.put(
        "/api/v1/ivr/settings", headers=h, json={"require_passing_tests": True}
    )
    assert settings.status_code == 200, settings.text
    created = await client.post(
        "/api/v1/ivr/flows",
        headers=h,
        json={"name": f"Main {tenant.slug}", "draft": IVR_FLOW},
    )
    assert created.status_code == 201, created.text
    flow_id = created.json()["id"]
    test = {
        "name": f"sales {tenant.slug}",
        "script": {"steps": [{"digits": "1"}]},
        "expect": {"outcome": "transferred", "transferred_to": "+15551230001"},
    }
    setup = [
        ("POST", f"/api/v1/ivr/flows/{flow_id}/tests", test),
        ("POST", f"/api/v1/ivr/flows/{flow_id}/publish", {"note": f"first {tenant.slug}"}),
        ("POST", "/api/v1/calls", {"to": "+14155550101", "flow_id": flow_id}),
    ]
    for method, path, body in setup:
        response = await client.request(method, path, headers=h, json=body)
        assert response.status_code in (200, 201), (path, response.text)
    sid = response.json()["provider_call_id"]
    answered = [{"type": "needs", "call": sid, "reason": "answered"}]
    hook = await fakeline_webhook(client, tenant.id, secret, answered, kind="voice")
    assert hook.status_code == 200, hook.text
    assert b"Welcome." in hook.content  # the flow runs and waits for the caller
    drained = await client.post("/api/v1/walkvault/events", headers=h)
    assert drained.status_code == 200, drained.text


async def _operator(platform, client) -> dict[str, str]:
    async with platform.database.session() as session:
        session.add(PlatformOperator(email=OPERATOR[0], password_hash=hash_password(OPERATOR[1])))
        await session.commit()
    return await login(client, *OPERATOR)


async def walk(
    app, client, a: Tenant, b: Tenant, *, only: str | None = None, plugin: str | None = None
) -> int:
    """Call every route (or those whose path contains ``only``) as A's owner with B's ids
    (``kernel.testing.assert_tenant_isolation``); returns the number of requests made."""
    return await assert_tenant_isolation(
        app,
        client,
        attacker=a.headers,
        victim=b.id,
        victim_names=[b.slug, f"qa-{b.slug}", *b.secrets],
        # A flow's version `{number}` is B's first one: only the flow id in front of it varies.
        path_values={"name": f"qa-{b.slug}", "permission": "users:read", "action": "reset"}
        | {"number": "1"},
        body_values={
            "password": PASSWORD,
            "owner_password": PASSWORD,
            "permission": "users:read",
            "token": "kiv_" + b.id.hex + "_" + "x" * 43,
            "refresh_token": "krt_" + b.id.hex + "_" + "x" * 43,
        },
        only=only,
        plugin=plugin,
    )


async def test_tenant_a_cannot_reach_anything_of_tenant_b(kraliki_app, kraliki_client):
    operator = await _operator(kraliki_app.state.platform, kraliki_client)
    a = await _seed(kraliki_client, operator, "alpha")
    b = await _seed(kraliki_client, operator, "beta")
    assert await walk(kraliki_app, kraliki_client, a, b) > 100


async def test_tenant_a_cannot_reach_any_agent_of_tenant_b(kraliki_app, kraliki_client):
    """The agents plugin's routes and tables alone (its seeds are above)."""
    operator = await _operator(kraliki_app.state.platform, kraliki_client)
    a = await _seed(kraliki_client, operator, "alpha")
    b = await _seed(kraliki_client, operator, "beta")
    assert await walk(kraliki_app, kraliki_client, a, b, plugin="agents") > 20


async def test_the_queues_routes_are_walked(kraliki_app, kraliki_client):
    """The queues plugin's routes and tables alone (the whole walk above covers them too)."""
    operator = await _operator(kraliki_app.state.platform, kraliki_client)
    a = await _seed(kraliki_client, operator, "alpha")
    b = await _seed(kraliki_client, operator, "beta")
    assert await walk(kraliki_app, kraliki_client, a, b, plugin="queues") > 20


async def test_the_campaigns_routes_are_walked(kraliki_app, kraliki_client):
    """The campaigns plugin's routes and tables alone (figures, the compliance report and
    dispositions included; the whole walk above covers them too)."""
    operator = await _operator(kraliki_app.state.platform, kraliki_client)
    a = await _seed(kraliki_client, operator, "alpha")
    b = await _seed(kraliki_client, operator, "beta")
    assert await walk(kraliki_app, kraliki_client, a, b, plugin="campaigns") > 15


async def test_the_supervisor_routes_are_walked(kraliki_app, kraliki_client):
    """The supervisor plugin's routes and tables alone (sessions, settings, the wallboard,
    the dashboard and alerts; the whole walk above covers them too)."""
    operator = await _operator(kraliki_app.state.platform, kraliki_client)
    a = await _seed(kraliki_client, operator, "alpha")
    b = await _seed(kraliki_client, operator, "beta")
    assert await walk(kraliki_app, kraliki_client, a, b, plugin="supervisor") > 5


async def test_the_ai_routes_are_walked(kraliki_app, kraliki_client):
    """The ai plugin's routes and tables alone (settings, usage, health, providers, tasks,
    generate; the whole walk above covers them too)."""
    operator = await _operator(kraliki_app.state.platform, kraliki_client)
    a = await _seed(kraliki_client, operator, "alpha")
    b = await _seed(kraliki_client, operator, "beta")
    assert await walk(kraliki_app, kraliki_client, a, b, plugin="ai") > 5


async def test_the_sentiment_routes_are_walked(kraliki_app, kraliki_client):
    """The sentiment plugin's routes and tables alone (a call's sentiment, analysing it,
    trends; the whole walk above covers them too)."""
    operator = await _operator(kraliki_app.state.platform, kraliki_client)
    a = await _seed(kraliki_client, operator, "alpha")
    b = await _seed(kraliki_client, operator, "beta")
    assert await walk(kraliki_app, kraliki_client, a, b, plugin="sentiment") >= 3


async def test_the_summaries_routes_are_walked(kraliki_app, kraliki_client):
    """The summaries plugin's routes and table alone (the whole walk above covers them too)."""
    operator = await _operator(kraliki_app.state.platform, kraliki_client)
    a = await _seed(kraliki_client, operator, "alpha")
    b = await _seed(kraliki_client, operator, "beta")
    assert await walk(kraliki_app, kraliki_client, a, b, plugin="summaries") >= 3


async def test_the_agent_assist_routes_are_walked(kraliki_app, kraliki_client):
    """The agent_assist plugin's routes and tables alone (articles, search, import,
    suggestions and feedback; the whole walk above covers them too)."""
    operator = await _operator(kraliki_app.state.platform, kraliki_client)
    a = await _seed(kraliki_client, operator, "alpha")
    b = await _seed(kraliki_client, operator, "beta")
    assert await walk(kraliki_app, kraliki_client, a, b, plugin="agent_assist") > 5


async def test_the_walk_catches_a_leaky_route(
    kraliki_make_app, kraliki_register_plugin, make_plugin
):
    """The walker itself must be able to fail: a route that bypasses the ORM layer with raw
    SQL leaks on SQLite (and on PostgreSQL RLS still hides B's rows, so nothing leaks). Only
    that route is walked: the full walk is the test above."""
    router = APIRouter()

    @router.get("/everyone", dependencies=[Depends(require("leaky.users", "read"))])
    async def everyone(session: SessionDep) -> list[str]:
        return [str(row[0]) for row in await session.execute(text("SELECT email FROM users"))]

    kraliki_register_plugin(
        make_plugin(
            "leaky",
            permissions=[Permission("leaky.users", "read", "Leak.", ("admin",))],
            routers=[router],
        )
    )
    app = await kraliki_make_app()
    async with app_client(app) as client:
        operator = await _operator(app.state.platform, client)
        a = await _seed(client, operator, "alpha")
        b = await _seed(client, operator, "beta")
        if app.state.platform.database.dialect == "postgresql":
            assert await walk(app, client, a, b, only="/leaky/") == 1
        else:
            with pytest.raises(AssertionError, match="B named in GET /api/v1/leaky/everyone"):
                await walk(app, client, a, b, only="/leaky/")


async def test_interleaved_requests_for_two_tenants_never_mix(kraliki_platform, kraliki_client):
    operator = await _operator(kraliki_platform, kraliki_client)
    tenants = [await _seed(kraliki_client, operator, slug) for slug in ("alpha", "beta")]

    async def check(tenant: Tenant) -> None:
        me = (await kraliki_client.get("/api/v1/auth/me", headers=tenant.headers)).json()
        assert me["tenant"]["slug"] == tenant.slug
        users = (await kraliki_client.get("/api/v1/users", headers=tenant.headers)).json()
        assert {u["email"].split("@")[1] for u in users["items"]} == {f"{tenant.slug}.example.com"}
        numbers = (
            await kraliki_client.get("/api/v1/blocklist/numbers", headers=tenant.headers)
        ).json()
        assert len(numbers["items"]) == 1

    await asyncio.gather(*(check(tenants[i % 2]) for i in range(60)))


@pytest.mark.postgres_only  # SQLite has no row-level security; the ORM is its only guard
async def test_raw_sql_without_a_tenant_sees_none_of_the_seeded_rows(
    kraliki_platform, kraliki_client
):
    operator = await _operator(kraliki_platform, kraliki_client)
    seeded = await _seed(kraliki_client, operator, "alpha")
    models = await tenant_models(kraliki_platform)
    assert all((await tenant_rows(kraliki_platform, models, seeded.id)).values())
    async with kraliki_platform.database.engine.connect() as connection:
        for model in models:
            table = model.__tablename__
            count = await connection.scalar(text(f'SELECT count(*) FROM "{table}"'))
            assert count == 0, table
