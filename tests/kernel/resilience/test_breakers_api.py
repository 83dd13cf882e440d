"""``/api/v1/resilience``: tenant admins see and control their own breakers, operators all;
actions are audited; a route that lets a dependency error escape answers problem+json."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends
from flaky_upstream import FlakyServer, Reply

from kernel import (
    CircuitOpenError,
    Permission,
    PlatformDep,
    Principal,
    TransientError,
    require,
)
from kernel._operators import PlatformOperator
from kernel._passwords import hash_password
from kernel.testing import app_client, login

BREAKERS = "/api/v1/resilience/breakers"
ALL = "/api/v1/resilience/platform/breakers"
SECRET = "sk-live-fedcba9876543210"


async def fail() -> None:
    raise TransientError("crm", "crm answered 503", status=503)


async def trip(platform, tenant_id: uuid.UUID | None, dependency: str = "crm") -> None:
    """One failed call: with a threshold of 1, the breaker opens."""

    async def fails() -> None:
        raise TransientError(dependency, status=503)

    with pytest.raises(TransientError):
        await platform.resilience.call(dependency, fails, tenant_id=tenant_id)


async def succeed(platform, tenant_id: uuid.UUID | None) -> str:
    async def ok() -> str:
        return "ok"

    result: str = await platform.resilience.call("crm", ok, tenant_id=tenant_id)
    return result


@pytest.fixture
async def world(kraliki_make_app):
    """acme (admin, agent) and globex (admin), an operator; breakers open at one failure."""
    app = await kraliki_make_app(breaker_failure_threshold=1, outbound_attempts=1)
    platform = app.state.platform
    async with app_client(app) as client:
        operator = ("ops@platform.example.com", "operator password 123")
        async with platform.database.session() as session:
            session.add(
                PlatformOperator(email=operator[0], password_hash=hash_password(operator[1]))
            )
            await session.commit()
        ops = await login(client, *operator)
        ids = {}
        for slug in ("acme", "globex"):
            created = await client.post(
                "/api/v1/tenants",
                headers=ops,
                json={
                    "name": slug.title(),
                    "slug": slug,
                    "owner_email": f"owner@{slug}.example.com",
                    "owner_password": "owner password 123",
                },
            )
            assert created.status_code == 201, created.text
            ids[slug] = uuid.UUID(created.json()["id"])
        owner = await login(client, "owner@acme.example.com", "owner password 123", tenant="acme")
        for email, role in (
            ("admin@acme.example.com", "admin"),
            ("agent@acme.example.com", "agent"),
        ):
            response = await client.post(
                "/api/v1/users",
                headers=owner,
                json={"email": email, "password": "member password 123", "roles": [role]},
            )
            assert response.status_code == 201, response.text
        yield {
            "app": app,
            "platform": platform,
            "client": client,
            "ops": ops,
            "acme": ids["acme"],
            "globex": ids["globex"],
            "acme_admin": await login(
                client, "admin@acme.example.com", "member password 123", tenant="acme"
            ),
            "acme_agent": await login(
                client, "agent@acme.example.com", "member password 123", tenant="acme"
            ),
            "globex_owner": await login(
                client, "owner@globex.example.com", "owner password 123", tenant="globex"
            ),
        }


async def test_tenant_admins_see_their_own_breakers_only(world):
    client, platform = world["client"], world["platform"]
    await trip(platform, world["acme"])
    await trip(platform, world["globex"], "billing")
    await trip(platform, None, "geoip")

    listed = await client.get(BREAKERS, headers=world["acme_admin"])
    assert listed.status_code == 200, listed.text
    [crm] = listed.json()["items"]
    assert crm["tenant_id"] == str(world["acme"])
    assert crm["dependency"] == "crm"
    assert crm["state"] == "open"
    assert crm["failure_count"] == 1
    assert crm["threshold"] == 1
    assert crm["reset_seconds"] == 30
    assert crm["opened_at"] is not None
    assert crm["half_open_at"] is not None
    assert crm["forced_by"] is None

    globex = (await client.get(BREAKERS, headers=world["globex_owner"])).json()["items"]
    assert [(b["dependency"], b["tenant_id"]) for b in globex] == [
        ("billing", str(world["globex"]))
    ]
    # An agent may not look; nobody unauthenticated either.
    assert (await client.get(BREAKERS, headers=world["acme_agent"])).status_code == 403
    assert (await client.get(BREAKERS)).status_code == 401


async def test_reset_force_open_and_force_close(world, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="kraliki.resilience")
    client, platform, acme = world["client"], world["platform"], world["acme"]
    admin = world["acme_admin"]
    await trip(platform, acme)

    reset = await client.post(f"{BREAKERS}/crm/reset", headers=admin)
    assert reset.status_code == 200, reset.text
    assert (reset.json()["state"], reset.json()["failure_count"]) == ("closed", 0)
    assert await succeed(platform, acme) == "ok"

    opened = await client.post(f"{BREAKERS}/crm/open", headers=admin)
    assert opened.json()["state"] == "forced_open"
    assert opened.json()["forced_by"] == "admin@acme.example.com"
    assert opened.json()["forced_at"] is not None
    called: list[int] = []

    async def counted() -> str:
        called.append(1)
        return "ok"

    with pytest.raises(CircuitOpenError) as caught:
        await platform.resilience.call("crm", counted, tenant_id=acme)
    assert caught.value.forced
    assert caught.value.retry_after is None
    assert called == []
    assert await succeed(platform, world["globex"]) == "ok"  # globex's breaker is its own

    closed = await client.post(f"{BREAKERS}/crm/close", headers=admin)
    assert closed.json()["state"] == "forced_closed"
    for _ in range(3):  # failing calls go through and are not held back
        with pytest.raises(TransientError):
            await platform.resilience.call("crm", fail, tenant_id=acme)
    assert (await client.get(BREAKERS, headers=admin)).json()["items"][0]["state"] == (
        "forced_closed"
    )

    back = await client.post(f"{BREAKERS}/crm/reset", headers=admin)
    assert back.json()["state"] == "closed"
    assert back.json()["forced_by"] is None

    changes = [
        (r.old_state, r.new_state)
        for r in caplog.records
        if getattr(r, "event", "") == "breaker_state_changed"
    ]
    assert changes == [
        ("closed", "open"),
        ("open", "closed"),
        ("closed", "forced_open"),
        ("forced_open", "forced_closed"),
        ("forced_closed", "closed"),
    ]
    registry = platform.metrics.registry
    labels = {"dependency": "crm", "state": "forced_open"}
    assert registry.get_sample_value("kraliki_breaker_transitions_total", labels) == 1

    audit = await client.get(
        "/api/v1/audit", headers=world["globex_owner"], params={"action": "resilience."}
    )
    assert audit.json()["items"] == []
    owner = await login(client, "owner@acme.example.com", "owner password 123", tenant="acme")
    audit = await client.get("/api/v1/audit", headers=owner, params={"action": "resilience."})
    events = [
        (e["action"], e["target_id"], e["actor_label"], e["details"]["previous_state"])
        for e in reversed(audit.json()["items"])
    ]
    assert events == [
        ("resilience.breaker_reset", "crm", "admin@acme.example.com", "open"),
        ("resilience.breaker_forced_open", "crm", "admin@acme.example.com", "closed"),
        ("resilience.breaker_forced_closed", "crm", "admin@acme.example.com", "forced_open"),
        ("resilience.breaker_reset", "crm", "admin@acme.example.com", "forced_closed"),
    ]


async def test_another_tenants_breakers_are_not_found(world):
    client, platform = world["client"], world["platform"]
    await trip(platform, world["acme"])
    for action in ("reset", "open", "close"):
        response = await client.post(f"{BREAKERS}/crm/{action}", headers=world["globex_owner"])
        assert response.status_code == 404, response.text
        assert response.json()["type"] == "/problems/breaker-not-found"
        assert str(world["acme"]) not in response.text
    assert (
        await client.post(f"{BREAKERS}/nope/open", headers=world["acme_admin"])
    ).status_code == (404)
    # Nothing changed for acme; agents and tenants cannot use the operator routes.
    listed = (await client.get(BREAKERS, headers=world["acme_admin"])).json()["items"]
    assert listed[0]["state"] == "open"
    assert (
        await client.post(f"{BREAKERS}/crm/reset", headers=world["acme_agent"])
    ).status_code == (403)
    assert (await client.get(ALL, headers=world["acme_admin"])).status_code == 403
    path = f"{ALL}/{world['acme']}/crm/reset"
    assert (await client.post(path, headers=world["globex_owner"])).status_code == 403


async def test_operators_see_and_control_every_breaker(world):
    client, platform, ops = world["client"], world["platform"], world["ops"]
    acme, globex = world["acme"], world["globex"]
    await trip(platform, acme)
    await trip(platform, globex)
    await trip(platform, None, "geoip")

    everything = (await client.get(ALL, headers=ops)).json()["items"]
    assert {(b["tenant_id"], b["dependency"]) for b in everything} == {
        (None, "geoip"),
        (str(acme), "crm"),
        (str(globex), "crm"),
    }
    one = (await client.get(ALL, headers=ops, params={"tenant_id": str(globex)})).json()["items"]
    assert [(b["tenant_id"], b["state"]) for b in one] == [(str(globex), "open")]
    # Operators hold no tenant permission: the tenant routes are not theirs.
    assert (await client.get(BREAKERS, headers=ops)).status_code == 403

    forced = await client.post(f"{ALL}/{acme}/crm/open", headers=ops)
    assert forced.status_code == 200, forced.text
    assert (forced.json()["state"], forced.json()["forced_by"]) == (
        "forced_open",
        "ops@platform.example.com",
    )
    # The tenant sees that an operator acted, not who.
    seen = (await client.get(BREAKERS, headers=world["acme_admin"])).json()["items"][0]
    assert (seen["state"], seen["forced_by"]) == ("forced_open", "platform operator")
    assert (await client.get(ALL, headers=ops, params={"tenant_id": str(globex)})).json()["items"][
        0
    ]["state"] == "open"

    platform_reset = await client.post(f"{ALL}/platform/geoip/reset", headers=ops)
    assert (platform_reset.json()["tenant_id"], platform_reset.json()["state"]) == (None, "closed")
    assert (await client.post(f"{ALL}/{globex}/crm/close", headers=ops)).json()["state"] == (
        "forced_closed"
    )
    for scope in ("platform", str(uuid.uuid4()), "not-a-tenant"):
        response = await client.post(f"{ALL}/{scope}/crm/reset", headers=ops)
        assert response.status_code == 404, (scope, response.text)

    audit = await client.get(
        "/api/v1/audit/platform", headers=ops, params={"action": "resilience."}
    )
    events = {
        (e["action"], e["tenant_id"], e["target_id"], e["operator_label"])
        for e in audit.json()["items"]
    }
    assert events == {
        ("resilience.breaker_forced_open", str(acme), "crm", "ops@platform.example.com"),
        ("resilience.breaker_reset", None, "geoip", "ops@platform.example.com"),
        ("resilience.breaker_forced_closed", str(globex), "crm", "ops@platform.example.com"),
    }


# --- a plugin route that calls out: errors become problem+json --------------------------------

CALL = Permission("relay.messages", "send", "Send through the relay.", ("admin",))


def relay_plugin(make_plugin, upstream: FlakyServer):
    router = APIRouter()

    @router.post("/send")
    async def send(
        platform: PlatformDep,
        _: Annotated[Principal, Depends(require(CALL.resource, CALL.action))],
    ) -> dict[str, int]:
        response = await platform.resilience.request(
            "relay",
            "POST",
            f"{upstream.url}/send?key={SECRET}",
            headers={"Authorization": f"Bearer {SECRET}"},
            json={"to": "+15550001111"},
        )
        return {"status": response.status_code}

    return make_plugin("relay", permissions=[CALL], routers=[router])


async def test_dependency_errors_answer_problem_details(
    kraliki_make_app, kraliki_register_plugin, make_plugin, kraliki_authenticate, upstream
):
    kraliki_register_plugin(relay_plugin(make_plugin, upstream))
    app = await kraliki_make_app(breaker_failure_threshold=2, outbound_attempts=2)
    tenant_id = uuid.uuid4()
    kraliki_authenticate(app, CALL.key, kind="user", tenant_id=tenant_id)
    async with app_client(app) as client:
        assert (await client.post("/api/v1/relay/send")).json() == {"status": 200}

        upstream.always(Reply(401, body=f'{{"error": "bad key {SECRET}"}}'.encode()))
        rejected = await client.post("/api/v1/relay/send")
        assert rejected.status_code == 502
        assert rejected.headers["content-type"].startswith("application/problem+json")
        assert rejected.json()["type"] == "/problems/dependency-rejected"
        assert rejected.json()["dependency"] == "relay"
        assert "401" in rejected.json()["detail"]

        upstream.always(Reply(503, body=f"down, {SECRET}".encode()))
        failed = await client.post("/api/v1/relay/send")  # two failures: the breaker opens
        assert failed.status_code == 502
        assert failed.json()["type"] == "/problems/dependency-failed"
        hits = upstream.hits
        opened = await client.post("/api/v1/relay/send")
        assert opened.status_code == 503
        assert opened.json()["type"] == "/problems/dependency-unavailable"
        assert 1 <= int(opened.headers["retry-after"]) <= 30
        assert upstream.hits == hits  # failed fast

        for response in (rejected, failed, opened):
            assert SECRET not in response.text
            assert SECRET not in str(response.headers)
        described = await client.get("/problems/dependency-timeout")
        assert described.json()["status"] == 504
        # The breaker belongs to the caller's tenant.
        platform = app.state.platform
        assert await platform.resilience.breakers.keys() == [(tenant_id, "relay")]


async def test_exhausted_retries_answer_502(
    kraliki_make_app, kraliki_register_plugin, make_plugin, kraliki_authenticate, upstream
):
    kraliki_register_plugin(relay_plugin(make_plugin, upstream))
    app = await kraliki_make_app(breaker_failure_threshold=10, outbound_attempts=3)
    kraliki_authenticate(app, CALL.key, kind="user", tenant_id=uuid.uuid4())
    upstream.always(Reply(500))
    async with app_client(app) as client:
        response = await client.post("/api/v1/relay/send")
    assert response.status_code == 502
    assert response.json()["type"] == "/problems/dependency-failed"
    assert "retry-after" not in response.headers
    assert upstream.hits == 3


async def test_breaker_states_name_each_of_a_tenants_breakers(world):
    """``platform.resilience.breaker_states``: what the supervisor's alerts watch."""
    client, platform, acme = world["client"], world["platform"], world["acme"]
    assert await platform.resilience.breaker_states(acme) == {}
    await trip(platform, acme)
    await succeed(platform, world["globex"])
    await trip(platform, None, "geoip")
    assert await platform.resilience.breaker_states(acme) == {"crm": "open"}
    assert await platform.resilience.breaker_states(world["globex"]) == {"crm": "closed"}
    assert await platform.resilience.breaker_states(None) == {"geoip": "open"}
    forced = await client.post(f"{BREAKERS}/crm/close", headers=world["acme_admin"])
    assert forced.status_code == 200, forced.text
    assert await platform.resilience.breaker_states(acme) == {"crm": "forced_closed"}
