"""The organization's AI settings through the API: defaults, replacing them, validation
(unknown providers and tasks, unsafe patterns), If-Match, permissions."""

from __future__ import annotations

from ai_helpers import put_settings


async def test_defaults_until_saved(client, owner):
    response = await client.get("/api/v1/ai/settings", headers=owner.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["routes"] == {}
    assert body["fallback"] == []
    assert body["redaction"] is True
    assert body["log_prompts"] is False
    assert body["monthly_budget"] is None
    assert body["budget_warning_percent"] == 80
    assert body["currency"] == "USD"
    assert body["version"] == 0
    assert response.headers["ETag"] == '"0"'


async def test_saved_settings_are_read_back_and_route_tasks(client, owner):
    saved = await put_settings(
        client,
        owner,
        routes={"generate": {"provider": "alpha", "model": "alpha-small"}},
        fallback=["beta"],
        instructions="Our product is called Widget.",
        redaction_patterns=[{"name": "order", "regex": r"ORD-\d{6}"}],
        monthly_budget="25.50",
        budget_warning_percent=70,
    )
    assert saved["version"] == 1
    read = (await client.get("/api/v1/ai/settings", headers=owner.headers)).json()
    assert read["routes"] == {"generate": {"provider": "alpha", "model": "alpha-small"}}
    assert read["fallback"] == ["beta"]
    assert read["redaction_patterns"] == [{"name": "order", "regex": r"ORD-\d{6}"}]
    assert read["monthly_budget"] == "25.50"
    tasks = (await client.get("/api/v1/ai/tasks", headers=owner.headers)).json()["items"]
    generate = next(task for task in tasks if task["name"] == "generate")
    assert generate["provider"] == "alpha"
    assert generate["model"] == "alpha-small"


async def test_unknown_providers_tasks_and_unsafe_patterns_are_refused(client, owner):
    response = await client.put(
        "/api/v1/ai/settings",
        headers=owner.headers,
        json={
            "routes": {"generate": {"provider": "nosuch"}, "nosuch.task": {"provider": "alpha"}},
            "fallback": ["gamma"],
            "redaction_patterns": [
                {"name": "nested", "regex": "(a+)+$"},
                {"name": "broken", "regex": "[unclosed"},
                {"name": "empty", "regex": "x*"},
            ],
        },
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"].endswith("/problems/ai-settings-invalid")
    locs = {tuple(error["loc"]) for error in body["errors"]}
    assert locs == {
        ("routes", "generate", "provider"),
        ("routes", "nosuch.task"),
        ("fallback", 0),
        ("redaction_patterns", 0, "regex"),
        ("redaction_patterns", 1, "regex"),
        ("redaction_patterns", 2, "regex"),
    }
    unchanged = (await client.get("/api/v1/ai/settings", headers=owner.headers)).json()
    assert unchanged["version"] == 0


async def test_a_negative_budget_is_refused(client, owner):
    response = await client.put(
        "/api/v1/ai/settings", headers=owner.headers, json={"monthly_budget": "-1"}
    )
    assert response.status_code == 422


async def test_if_match_guards_against_lost_updates(client, owner):
    await put_settings(client, owner, instructions="first")
    stale = await client.put(
        "/api/v1/ai/settings",
        headers={**owner.headers, "If-Match": '"0"'},
        json={"instructions": "second"},
    )
    assert stale.status_code == 412
    assert stale.json()["type"].endswith("/problems/ai-settings-changed")
    fresh = await client.put(
        "/api/v1/ai/settings",
        headers={**owner.headers, "If-Match": '"1"'},
        json={"instructions": "second"},
    )
    assert fresh.status_code == 200
    assert fresh.json()["version"] == 2


async def test_only_admins_change_settings(client, owner, as_role):
    supervisor = await as_role("supervisor")
    assert (await client.get("/api/v1/ai/settings", headers=supervisor)).status_code == 200
    refused = await client.put("/api/v1/ai/settings", headers=supervisor, json={})
    assert refused.status_code == 403
    agent = await as_role("agent")
    assert (await client.get("/api/v1/ai/settings", headers=agent)).status_code == 403
