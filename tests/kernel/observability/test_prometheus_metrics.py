"""``/metrics`` through HTTP: who may read it, and what the figures say."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from fastapi import APIRouter, Depends
from prometheus_client.parser import text_string_to_metric_families

from kernel import Permission, require
from kernel._observability.metrics import metrics_listener_app
from kernel._operators import PlatformOperator
from kernel._passwords import hash_password
from kernel.testing import app_client, login

READ = Permission("gauge.items", "read", "Read gauge items.", ("agent",))
METRICS_TOKEN = "scrape-token-for-tests-0123456789"
OPERATOR = ("ops@platform.example.com", "operator password 123")


def gauge_router() -> APIRouter:
    router = APIRouter()

    @router.get("/items/{item_id}", dependencies=[Depends(require(READ.resource, READ.action))])
    async def get_item(item_id: uuid.UUID) -> dict[str, str]:
        return {"id": str(item_id)}

    return router


def failing_hook(platform: Any, tenant_id: uuid.UUID) -> None:
    raise RuntimeError("this plugin is broken")


@pytest.fixture
def kraliki_extra_plugins(make_plugin: Any) -> list[object]:
    return [
        make_plugin("gauge", permissions=[READ], routers=[gauge_router()]),
        make_plugin("flaky", tenant_created=failing_hook),
    ]


async def operator_headers(platform: Any, client: Any) -> dict[str, str]:
    async with platform.database.session() as session:
        session.add(PlatformOperator(email=OPERATOR[0], password_hash=hash_password(OPERATOR[1])))
        await session.commit()
    return await login(client, *OPERATOR)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, frozenset(labels.items())))


async def test_anonymous_caller_gets_a_401_problem(kraliki_client):
    response = await kraliki_client.get("/metrics")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_tenant_user_is_refused(kraliki_client, kraliki_make_tenant, kraliki_make_user):
    tenant_id = await kraliki_make_tenant("acme")
    await kraliki_make_user(tenant_id, "owner@acme.example.com", roles=["owner"])
    headers = await login(kraliki_client, "owner@acme.example.com", tenant="acme")
    response = await kraliki_client.get("/metrics", headers=headers)
    assert response.status_code == 403
    assert "platform.metrics:read" in response.json()["detail"]


async def test_operator_reads_request_counts_per_route_template(
    kraliki_platform, kraliki_client, kraliki_make_tenant, kraliki_make_user
):
    operator = await operator_headers(kraliki_platform, kraliki_client)
    tenant_id = await kraliki_make_tenant("acme")
    await kraliki_make_user(tenant_id, "agent@acme.example.com")
    agent = await login(kraliki_client, "agent@acme.example.com", tenant="acme")
    for _ in range(2):
        response = await kraliki_client.get(f"/api/v1/gauge/items/{uuid.uuid4()}", headers=agent)
        assert response.status_code == 200
    assert (await kraliki_client.get(f"/api/v1/gauge/items/{uuid.uuid4()}")).status_code == 401
    assert (await kraliki_client.get("/no/such/path/123")).status_code == 404

    response = await kraliki_client.get("/metrics", headers=operator)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    route = "/api/v1/gauge/items/{item_id}"
    ok = value(text, "kraliki_http_requests_total", method="GET", route=route, status="200")
    assert ok == 2
    denied = value(text, "kraliki_http_requests_total", method="GET", route=route, status="401")
    assert denied == 1
    assert value(text, "kraliki_http_requests_total", method="GET", route="unmatched", status="404")
    count = value(text, "kraliki_http_request_duration_seconds_count", method="GET", route=route)
    assert count == 3
    bucket = value(
        text, "kraliki_http_request_duration_seconds_bucket", method="GET", route=route, le="+Inf"
    )
    assert bucket == 3
    # Raw paths (ids) never become labels.
    assert not re.search(r'route="/api/v1/gauge/items/[0-9a-f]{8}-', text)
    assert "/no/such/path" not in text


async def test_hook_failures_are_counted_per_plugin(kraliki_platform, kraliki_client):
    operator = await operator_headers(kraliki_platform, kraliki_client)
    created = await kraliki_client.post(
        "/api/v1/tenants",
        headers=operator,
        json={
            "name": "Beta",
            "slug": "beta",
            "owner_email": "owner@beta.example.com",
            "owner_password": OPERATOR[1],
        },
    )
    assert created.status_code == 201, created.text  # the broken plugin did not stop it
    text = (await kraliki_client.get("/metrics", headers=operator)).text
    failures = value(
        text, "kraliki_hook_failures_total", plugin="flaky", hook="kraliki_tenant_created"
    )
    assert failures == 1
    assert kraliki_platform.hooks.failures[("flaky", "kraliki_tenant_created")] == 1


async def test_scraper_token(kraliki_make_app):
    app = await kraliki_make_app(metrics_token=METRICS_TOKEN)
    async with app_client(app) as client:
        good = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert good.status_code == 200
        assert "kraliki_http_requests_total" in good.text
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status_code == 401


async def test_separate_port_instead_of_the_api(kraliki_make_app):
    app = await kraliki_make_app(metrics_port=9464, metrics_token=METRICS_TOKEN)
    async with app_client(app) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/metrics")).status_code == 404  # not on the API's port
    listener = metrics_listener_app(app.state.platform)
    async with app_client(listener) as client:  # type: ignore[arg-type]
        assert (await client.get("/metrics")).status_code == 401
        scraped = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert scraped.status_code == 200
        assert value(
            scraped.text,
            "kraliki_http_requests_total",
            method="GET",
            route="/healthz",
            status="200",
        )
        assert (await client.get("/api/v1/auth/me")).status_code == 404


def test_short_metrics_token_is_refused(kraliki_database):
    with pytest.raises(ValueError, match="at least 16"):
        kraliki_database.settings(metrics_token="short")
