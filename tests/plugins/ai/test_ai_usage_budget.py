"""Usage metering (GET /api/v1/ai/usage) and the monthly budget: the soft warning and the
hard stop, each published once a month, the stop sending every task offline."""

from __future__ import annotations

from ai_helpers import generate, put_settings, store_key

from kernel.testing import published_events


async def _usage(client, owner, **params):
    response = await client.get("/api/v1/ai/usage", headers=owner.headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_usage_is_metered_per_provider_model_task_and_plugin(client, owner, alpha):
    await store_key(client, owner, "alpha")
    await put_settings(client, owner, routes={"generate": {"provider": "alpha"}})
    await generate(client, owner, "one")
    await generate(client, owner, "two")
    await put_settings(client, owner)
    await generate(client, owner, "three words here")
    by_provider = await _usage(client, owner, group_by="provider")
    items = {item["key"]: item for item in by_provider["items"]}
    assert items["alpha"]["requests"] == 2
    assert items["alpha"]["input_tokens"] == 2000
    assert items["alpha"]["output_tokens"] == 1000
    assert items["alpha"]["cost"] == "0.050000"
    assert items["offline"]["requests"] == 1
    assert items["offline"]["cost"] == "0.000000"
    assert by_provider["totals"]["requests"] == 3
    assert by_provider["totals"]["cost"] == "0.050000"
    by_model = await _usage(client, owner, group_by="model")
    assert {item["key"] for item in by_model["items"]} == {"alpha/alpha-large", "offline/offline"}
    by_task = await _usage(client, owner, group_by="task")
    assert [(i["key"], i["requests"]) for i in by_task["items"]] == [("generate", 3)]
    by_plugin = await _usage(client, owner, group_by="plugin")
    assert [(i["key"], i["requests"]) for i in by_plugin["items"]] == [("ai", 3)]
    by_day = await _usage(client, owner)
    assert by_day["group_by"] == "day"
    assert len(by_day["items"]) == 1
    assert by_day["budget"]["status"] == "none"
    assert by_day["budget"]["spent"] == "0.050000"


async def test_a_range_without_usage_is_empty_and_a_reversed_one_refused(client, owner):
    empty = await _usage(client, owner, **{"from": "2020-01-01", "to": "2020-01-31"})
    assert empty["items"] == []
    assert empty["totals"]["requests"] == 0
    assert empty["from"] == "2020-01-01"
    refused = await client.get(
        "/api/v1/ai/usage", headers=owner.headers, params={"from": "2020-02-01", "to": "2020-01-01"}
    )
    assert refused.status_code == 422
    assert refused.json()["type"].endswith("/problems/ai-usage-range-invalid")


async def test_the_budget_warns_once_then_stops_to_offline(client, platform, owner, alpha):
    await store_key(client, owner, "alpha")
    await put_settings(
        client,
        owner,
        routes={"generate": {"provider": "alpha"}},
        monthly_budget="0.05",
        budget_warning_percent=40,
    )
    first = await generate(client, owner, "one")  # $0.025: 50 %, over the 40 % warning
    assert first["provider"] == "alpha"
    assert (await _usage(client, owner))["budget"]["status"] == "warning"
    second = await generate(client, owner, "two")  # $0.05: the budget is spent
    assert second["provider"] == "alpha"
    third = await generate(client, owner, "three")
    assert third["provider"] == "offline"
    assert third["fallbacks"] == [{"provider": "alpha", "reason": "budget_exhausted", "detail": ""}]
    assert len(alpha.received) == 2
    await generate(client, owner, "four")
    events = [
        (name, payload)
        for name, payload in await published_events(platform, owner.tenant_id)
        if name.startswith("ai.budget.")
    ]
    assert [name for name, _ in events] == ["ai.budget.warning", "ai.budget.exhausted"]
    warning, exhausted = events[0][1], events[1][1]
    assert warning["spent"] == "0.025000"
    assert warning["budget"] == "0.05"
    assert warning["percent"] == 50.0
    assert warning["warning_percent"] == 40
    assert exhausted["spent"] == "0.050000"
    assert exhausted["percent"] == 100.0
    status = (await _usage(client, owner))["budget"]
    assert status["status"] == "exhausted"
    assert status["monthly_budget"] == "0.05"
    assert status["currency"] == "USD"


async def test_raising_the_budget_lifts_the_stop(client, owner, alpha):
    await store_key(client, owner, "alpha")
    route = {"generate": {"provider": "alpha"}}
    await put_settings(client, owner, routes=route, monthly_budget="0.02")
    assert (await generate(client, owner, "one"))["provider"] == "alpha"
    assert (await generate(client, owner, "two"))["provider"] == "offline"
    await put_settings(client, owner, routes=route, monthly_budget="10")
    assert (await generate(client, owner, "three"))["provider"] == "alpha"


async def test_usage_needs_its_permission(client, as_role):
    agent = await as_role("agent")
    assert (await client.get("/api/v1/ai/usage", headers=agent)).status_code == 403
    supervisor = await as_role("supervisor")
    assert (await client.get("/api/v1/ai/usage", headers=supervisor)).status_code == 200


async def test_offline_usage_is_written_when_the_process_stops(client, platform, owner):
    """Offline answers are summed in memory; shutting down writes them."""
    from sqlalchemy import func, select

    from kernel import tenant_scope
    from plugins.ai.models import AiUsageRow
    from plugins.ai.plugin import kraliki_shutdown

    await generate(client, owner, "hello")

    async def written() -> int:
        with tenant_scope(owner.tenant_id):
            async with platform.database.session() as session:
                total = await session.scalar(select(func.sum(AiUsageRow.requests)))
                return int(total or 0)

    assert await written() == 0
    await kraliki_shutdown(platform)
    assert await written() == 1
