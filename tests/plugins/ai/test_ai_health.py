"""ai-health: each provider's breaker, requests, error rate, latency and last error; the
breaker reset (audited); the providers and tasks lists; per-tenant isolation of all of it."""

from __future__ import annotations

from ai_helpers import generate, put_settings, store_key

from kernel.testing import audit_events


async def _health(client, owner):
    response = await client.get("/api/v1/ai/health", headers=owner.headers)
    assert response.status_code == 200, response.text
    return {item["provider"]: item for item in response.json()["providers"]}


async def test_health_counts_requests_errors_and_latency(client, owner, alpha, beta):
    await store_key(client, owner, "alpha")
    await store_key(client, owner, "beta")
    await put_settings(client, owner, routes={"generate": {"provider": "alpha"}}, fallback=["beta"])
    before = await _health(client, owner)
    assert before["alpha"]["requests"] == 0
    assert before["alpha"]["breaker_state"] == "closed"
    assert before["alpha"]["error_rate"] is None
    assert before["alpha"]["last_error"] is None
    await generate(client, owner, "ok")
    alpha.mode = "down"
    await generate(client, owner, "fails")
    figures = (await _health(client, owner))["alpha"]
    assert figures["requests"] == 2
    assert figures["errors"] == 1
    assert figures["error_rate"] == 0.5
    assert figures["latency"]["p50_ms"] is not None
    assert figures["latency"]["p99_ms"] >= 0
    assert figures["last_error"]["error"] == "UpstreamDown"
    assert "503 from upstream" not in str(figures)  # the class only, never the message
    assert (await _health(client, owner))["beta"]["requests"] == 1


async def test_an_open_breaker_shows_and_its_reset_is_audited(client, platform, owner, alpha, beta):
    await store_key(client, owner, "alpha")
    await store_key(client, owner, "beta")
    await put_settings(client, owner, routes={"generate": {"provider": "alpha"}}, fallback=["beta"])
    alpha.mode = "down"
    for _ in range(2):
        await generate(client, owner, "fails")
    assert (await _health(client, owner))["alpha"]["breaker_state"] == "open"
    alpha.mode = "ok"
    assert (await generate(client, owner, "x"))["fallbacks"][0]["reason"] == "breaker_open"
    reset = await client.post("/api/v1/ai/health/alpha/reset", headers=owner.headers)
    assert reset.status_code == 200, reset.text
    assert reset.json()["breaker_state"] == "closed"
    assert (await generate(client, owner, "x"))["provider"] == "alpha"
    entries = [
        e for e in await audit_events(platform, owner.tenant_id) if e.action == "ai.breaker_reset"
    ]
    assert len(entries) == 1
    assert entries[0].details["previous_state"] == "open"


async def test_resetting_an_unknown_provider_is_not_found(client, owner):
    response = await client.post("/api/v1/ai/health/nosuch/reset", headers=owner.headers)
    assert response.status_code == 404
    assert response.json()["type"].endswith("/problems/ai-provider-not-found")


async def test_only_admins_reset_breakers(client, as_role):
    supervisor = await as_role("supervisor")
    assert (await client.get("/api/v1/ai/health", headers=supervisor)).status_code == 200
    refused = await client.post("/api/v1/ai/health/alpha/reset", headers=supervisor)
    assert refused.status_code == 403


async def test_providers_say_whether_the_tenant_has_a_key_never_the_key(client, owner):
    key = await store_key(client, owner, "alpha")
    response = await client.get("/api/v1/ai/providers", headers=owner.headers)
    assert response.status_code == 200, response.text
    assert key not in response.text
    items = {item["name"]: item for item in response.json()["items"]}
    assert set(items) == {"offline", "alpha", "beta"}
    assert items["alpha"]["has_key"] is True
    assert items["beta"]["has_key"] is False
    assert items["alpha"]["key_secret"] == "alpha.api_key"
    assert items["alpha"]["embedding_model"] == "alpha-embed"
    assert items["beta"]["embedding_model"] is None
    assert items["alpha"]["prices"]["alpha-large"] == {
        "input_per_million": "10",
        "output_per_million": "30",
    }
    tasks = (await client.get("/api/v1/ai/tasks", headers=owner.headers)).json()["items"]
    assert {task["name"] for task in tasks} == {"generate", "verdict"}
    assert all(task["provider"] == "offline" for task in tasks)


async def test_another_tenant_sees_none_of_it(client, kraliki_make_owner, owner, alpha, beta):
    await store_key(client, owner, "alpha")
    await store_key(client, owner, "beta")
    await put_settings(
        client,
        owner,
        routes={"generate": {"provider": "alpha"}},
        fallback=["beta"],
        instructions="acme glossary",
        monthly_budget="1",
    )
    alpha.mode = "down"
    for _ in range(2):
        await generate(client, owner, "fails")
    other = await kraliki_make_owner("globex")
    settings = (await client.get("/api/v1/ai/settings", headers=other.headers)).json()
    assert settings["version"] == 0
    assert settings["instructions"] == ""
    usage = (
        await client.get("/api/v1/ai/usage", headers=other.headers, params={"group_by": "provider"})
    ).json()
    assert usage["items"] == []
    assert usage["budget"]["status"] == "none"
    health = await _health(client, other)
    assert health["alpha"]["requests"] == 0
    assert health["alpha"]["breaker_state"] == "closed"
    providers = (await client.get("/api/v1/ai/providers", headers=other.headers)).json()
    assert not any(item["has_key"] for item in providers["items"] if item["name"] != "offline")
    # Its own key, on its own breaker: acme's open breaker does not touch it.
    await store_key(client, other, "alpha")
    await put_settings(client, other, routes={"generate": {"provider": "alpha"}})
    alpha.mode = "ok"
    assert (await generate(client, other, "hello"))["provider"] == "alpha"
    assert (await _health(client, owner))["alpha"]["breaker_state"] == "open"
