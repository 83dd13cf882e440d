"""The AI plugins on a live call, the whole way through the HTTP API on the loopback carrier.

A customer calls in, presses 2 and is put through to Ana, a loopback agent whose phone
answers; once through, the customer keeps saying their parcel arrived damaged and reads out
their card number; Ana apologises, promises the refund and hangs up. The same call gives:

* live sentiment: each segment scored as it arrives, ``sentiment.call.updated`` on Ana's
  real-time stream, the call's sentiment through the API;
* a suggestion for Ana (the refund article and a reply) on her real-time stream;
* a summary once the call ended.

With no keys configured everything is answered by the offline models. With the
organization's own keys (BYOK, in its vault) and its settings routing the three tasks to
OpenAI or Anthropic, the real SDKs talk to the local stand-ins of those services, and the
card number never reaches them (redaction). Then, through the real providers: the budget's
hard stop, and the fallback when a provider's breaker is open."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kernel import add_user, tenant_scope
from kernel.testing import (
    DEFAULT_TEST_PASSWORD,
    TenantOwner,
    installed_plugin,
    login,
    published_events,
)
from plugins.ai import lexicon_sentiment
from plugins.anthropic.testing import AnthropicStandIn
from plugins.loopback import testing
from plugins.loopback.testing import LoopbackCalls
from plugins.openai.testing import OpenAIStandIn

loopback_calls = testing.loopback_calls

PLUGINS = (
    "calls",
    "loopback",
    "ivr",
    "contacts",
    "agents",
    "queues",
    "ai",
    "openai",
    "anthropic",
    "sentiment",
    "summaries",
    "agent_assist",
)
CARD = "4111 1111 1111 1111"
SAID = f"My parcel arrived damaged and I would like a refund to my card {CARD}."
KB = """# Refunds for damaged items
Tags: billing, refunds
A damaged item is refunded in full within 14 days. Ask the customer for the order number.
The refund goes back to the card they paid with, in three to five working days.

# Changing a delivery address
Tags: delivery
The delivery address can be changed until the parcel leaves the warehouse.
"""
TASKS = ("sentiment", "summary", "assist.reply")

# What the stand-ins answer each task (a model would say something like it).
MODEL_SENTIMENT = {"label": "negative", "score": -0.62}
MODEL_SUMMARY = {
    "summary": "The customer's parcel arrived damaged; the agent promised a full refund.",
    "reason": "A parcel arrived damaged.",
    "outcome": "resolved",
    "suggested_disposition": None,
    "follow_ups": ["Refund the damaged parcel"],
}
MODEL_REPLY = {"reply": "I'm sorry about your parcel: I am refunding it in full right now."}


def model_answer(body: Mapping[str, Any]) -> Mapping[str, Any] | str:
    """The stand-ins' answer to a request, by the task its output schema belongs to: the
    JSON schema (OpenAI's ``response_format``, Anthropic's forced tool's ``input_schema``)."""
    schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("schema")
    if schema is None:
        tools = body.get("tools") or [{}]
        schema = tools[0].get("input_schema") or {}
    fields = set(schema.get("properties") or ())
    if "score" in fields:
        return MODEL_SENTIMENT
    if "follow_ups" in fields:
        return MODEL_SUMMARY
    if "reply" in fields:
        return MODEL_REPLY
    return "A long answer. " * 1000  # generate: 3,000 tokens written


@dataclass
class Models:
    """The two stand-ins, started, with the platform's base URLs pointing at them."""

    openai: OpenAIStandIn
    anthropic: AnthropicStandIn

    def of(self, provider: str) -> OpenAIStandIn | AnthropicStandIn:
        return self.openai if provider == "openai" else self.anthropic

    def bodies(self, provider: str) -> list[Any]:
        if provider == "openai":
            return self.openai.chat_bodies()
        return self.anthropic.message_bodies()


@pytest.fixture
def kraliki_installed_plugins() -> list[object]:
    return [installed_plugin(name) for name in PLUGINS]


@pytest.fixture
def kraliki_extra_plugins() -> list[object]:
    return []


@pytest.fixture(autouse=True)
async def models(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Models]:
    """Started before any app (autouse): the app reads the base URLs when it is built."""
    async with OpenAIStandIn() as openai, AnthropicStandIn() as anthropic:
        for name, value in (openai.environment() | anthropic.environment()).items():
            monkeypatch.setenv(name, value)
        openai.responder = anthropic.responder = model_answer
        yield Models(openai, anthropic)


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def bring_own_key(api: httpx.AsyncClient, models: Models, provider: str) -> None:
    """The organization stores its key (checked against the provider: the stand-in)."""
    stored = await api.put(
        f"/vault/secrets/{provider}.api_key", json={"value": models.of(provider).api_key}
    )
    assert stored.status_code in (200, 201), stored.text


# --- the call ---------------------------------------------------------------------------------


def customer() -> list[Any]:
    """Presses 2, then says ``SAID`` every 1.5 s until the agent hangs up."""
    steps: list[Any] = ["answer", {"step": "press", "digits": "2"}]
    for _ in range(12):
        steps += [{"step": "wait", "seconds": 150}, {"step": "say", "text": SAID}]
    return [*steps, {"step": "wait", "seconds": 6000}]


AGENT = [
    {"answer_after": 1},
    {"step": "wait", "seconds": 300},
    {"step": "say", "text": "I'm sorry to hear that. I will refund the parcel in full today."},
    {"hangup_after": 600},
]


def desk(queue_id: str) -> dict[str, Any]:
    return {
        "start": "menu",
        "nodes": {
            "menu": {
                "type": "menu",
                "greeting": "Welcome.",
                "options": [{"key": "2", "label": "support"}],
                "exits": {"2": "support", "no_input": "bye", "no_match": "bye"},
            },
            "support": {"type": "queues.enqueue", "queue_id": queue_id},
            "bye": {"type": "hangup", "message": "Goodbye."},
        },
    }


async def agent_user(calls: LoopbackCalls) -> tuple[str, dict[str, str]]:
    """Ana's user (role agent): its id and her signed-in headers."""
    email = "ana@loopback.example.com"
    with tenant_scope(calls.tenant_id):
        async with calls.platform.database.session() as session:
            user = await add_user(
                session, email=email, password=DEFAULT_TEST_PASSWORD, roles=["agent"]
            )
            await session.commit()
    async with httpx.AsyncClient(base_url=calls.url, timeout=30) as api:
        return str(user), await login(api, email, tenant="loopback")


async def contact_center(api: httpx.AsyncClient, user_id: str) -> tuple[str, str]:
    """Ana's loopback agent (available), the queue she serves and the published desk flow:
    the agent's and the flow's ids."""
    body = {
        "display_name": "Ana",
        "user_id": user_id,
        "reach": {"kind": "loopback", "loopback_script": AGENT},
    }
    agent = await ok(await api.post("/agents", json=body), 201)
    available = {"state": "available", "reason": "shift"}
    await ok(await api.put(f"/agents/{agent['id']}/state", json=available))
    queue = await ok(
        await api.post(
            "/queues", json={"name": "Support", "wrap_up_seconds": 1, "agent_ids": [agent["id"]]}
        ),
        201,
    )
    flow = await ok(
        await api.post("/ivr/flows", json={"name": "Desk", "draft": desk(queue["id"])}), 201
    )
    await ok(await api.post(f"/ivr/flows/{flow['id']}/publish", json={}), 201)
    return str(agent["id"]), str(flow["id"])


async def listen(url: str, headers: dict[str, str], into: list[dict[str, Any]]) -> None:
    """Ana's real-time stream (SSE), as her agent page reads it."""
    params = {"events": ["sentiment.*", "agent_assist.*"]}
    async with (
        httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(60, read=60)) as client,
        client.stream("GET", "/api/v1/realtime/sse", headers=headers, params=params) as stream,
    ):
        assert stream.status_code == 200
        async for line in stream.aiter_lines():
            if line.startswith("data: "):
                into.append(json.loads(line.removeprefix("data: ")))


async def until(check: Any, within: float = 40) -> Any:
    """Poll ``check`` (an async callable) until it returns something truthy."""
    async with asyncio.timeout(within):
        while not (found := await check()):  # noqa: ASYNC110 - polling the API
            await asyncio.sleep(0.1)
    return found


@pytest.mark.parametrize("provider", ["offline", "openai", "anthropic"])
async def test_a_live_call_gets_sentiment_suggestions_and_a_summary(
    loopback_calls: LoopbackCalls, models: Models, provider: str
) -> None:
    calls = loopback_calls
    async with httpx.AsyncClient(
        base_url=f"{calls.url}/api/v1", headers=calls.headers, timeout=30
    ) as api:
        if provider != "offline":
            await bring_own_key(api, models, provider)
            routes = {task: {"provider": provider, "model": None} for task in TASKS}
            await ok(await api.put("/ai/settings", json={"routes": routes}))
        await ok(
            await api.post(
                "/agent-assist/articles/import", json={"format": "markdown", "content": KB}
            ),
            201,
        )
        user_id, ana = await agent_user(calls)
        agent_id, flow_id = await contact_center(api, user_id)
        heard: list[dict[str, Any]] = []
        stream = asyncio.create_task(listen(calls.url, ana, heard))
        try:
            await asyncio.sleep(0.3)  # subscribed
            body = {
                "to": "+14155550123",
                "from": "+14155550100",
                "flow_id": flow_id,
                "options": {"script": customer()},
            }
            call_id = str((await ok(await api.post("/calls", json=body), 201))["id"])

            async def suggestions() -> list[dict[str, Any]]:
                found: list[dict[str, Any]] = await ok(
                    await api.get(f"/agent-assist/calls/{call_id}/suggestions")
                )
                return found

            [suggestion] = await until(suggestions)

            async def summarised() -> dict[str, Any] | None:
                response = await api.get(f"/summaries/calls/{call_id}")
                assert response.status_code in (200, 404), response.text
                done = response.status_code == 200 and response.json()["status"] == "done"
                return response.json() if done else None

            summary = await until(summarised, within=60)
            sentiment = await ok(await api.get(f"/sentiment/calls/{call_id}"))

            def on_stream(name: str) -> list[dict[str, Any]]:
                return [
                    e["data"]
                    for e in heard
                    if e.get("type") == name and e["data"].get("call_id") == call_id
                ]

            await until(lambda: asyncio.sleep(0, on_stream("agent_assist.suggestion.created")))
        finally:
            stream.cancel()

    # The suggestion: for Ana, the refund article first, the reply of the task's provider.
    assert suggestion["agent_id"] == agent_id
    assert suggestion["provider"] == provider
    assert suggestion["articles"][0]["title"] == "Refunds for damaged items"
    if provider == "offline":
        assert suggestion["reply"].startswith("A damaged item is refunded in full")
    else:
        assert suggestion["reply"] == MODEL_REPLY["reply"]
    assert on_stream("agent_assist.suggestion.created") == [
        {
            "suggestion_id": suggestion["id"],
            "call_id": call_id,
            "agent_id": agent_id,
            "article_ids": [a["id"] for a in suggestion["articles"]],
        }
    ]

    # Live sentiment: the customer's segments scored while the call went on, Ana heard them.
    customer_said = [p for p in sentiment["points"] if p["role"] == "customer"]
    assert customer_said
    expected = (
        round(lexicon_sentiment(SAID).compound, 4)
        if provider == "offline"
        else MODEL_SENTIMENT["score"]
    )
    assert {p["score"] for p in customer_said} == {expected}
    assert sentiment["agent_id"] == agent_id
    assert on_stream("sentiment.call.updated")

    # The summary, once the call ended, by the task's provider.
    assert summary["provider"] == provider
    assert summary["fell_back"] is False
    if provider == "offline":
        assert "refund" in summary["reason"]
    else:
        assert summary["reason"] == MODEL_SUMMARY["reason"]
        assert summary["follow_ups"] == MODEL_SUMMARY["follow_ups"]

    if provider == "offline":  # no keys: nothing left the platform
        assert models.openai.requests == []
        assert models.anthropic.requests == []
        return
    # BYOK: every request carried the organization's key; the card number never left.
    stand_in = models.of(provider)
    asked = models.bodies(provider)
    assert len(asked) >= 3  # a sentiment per segment, the reply, the summary
    assert {r.api_key for r in stand_in.requests} == {stand_in.api_key}
    sent = json.dumps(asked)
    assert CARD not in sent
    assert CARD.replace(" ", "") not in sent
    assert "[card]" in sent
    assert "parcel arrived damaged" in sent
    other = models.of("anthropic" if provider == "openai" else "openai")
    assert [r for r in other.requests if r.path != "/v1/models"] == []


# --- budgets and breakers through the real providers ------------------------------------------


@pytest.fixture
async def app(kraliki_make_app: Any) -> FastAPI:
    """No workers; one attempt per request and a breaker opening after two failures."""
    made: FastAPI = await kraliki_make_app(
        background_workers=False,
        outbound_attempts=1,
        breaker_failure_threshold=2,
        breaker_reset_seconds=600,
    )
    return made


@pytest.fixture
async def owner(app: FastAPI, kraliki_make_owner: Any) -> TenantOwner:
    made: TenantOwner = await kraliki_make_owner("acme")
    return made


@pytest.fixture
async def api(app: FastAPI, kraliki_client: httpx.AsyncClient, owner: TenantOwner) -> Any:
    kraliki_client.headers.update(owner.headers)
    kraliki_client.base_url = kraliki_client.base_url.join("/api/v1")
    return kraliki_client


async def generate(api: httpx.AsyncClient, prompt: str) -> dict[str, Any]:
    answered: dict[str, Any] = await ok(await api.post("/ai/generate", json={"prompt": prompt}))
    return answered


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_the_budget_stops_the_providers_spending(
    app: FastAPI, api: httpx.AsyncClient, owner: TenantOwner, models: Models, provider: str
) -> None:
    await bring_own_key(api, models, provider)
    model = "gpt-4.1" if provider == "openai" else "claude-sonnet-4-5"
    routes = {"generate": {"provider": provider, "model": model}}
    await ok(await api.put("/ai/settings", json={"routes": routes, "monthly_budget": "0.01"}))
    first = await generate(api, f"Card {CARD}: write me a long answer.")
    assert first["provider"] == provider  # 3,000 tokens written: over $0.01
    second = await generate(api, "And another.")
    assert second["provider"] == "offline"
    assert second["fallbacks"] == [
        {"provider": provider, "reason": "budget_exhausted", "detail": ""}
    ]
    assert len(models.bodies(provider)) == 1  # the stopped request never left
    assert CARD not in json.dumps(models.bodies(provider))
    usage = await ok(await api.get("/ai/usage"))
    assert usage["budget"]["status"] == "exhausted"
    names = [name for name, _ in await published_events(app.state.platform, owner.tenant_id)]
    assert "ai.budget.exhausted" in names


async def test_an_open_breaker_falls_back_to_the_next_provider(
    api: httpx.AsyncClient, models: Models
) -> None:
    for provider in ("openai", "anthropic"):
        await bring_own_key(api, models, provider)
    settings = {"routes": {"generate": {"provider": "openai"}}, "fallback": ["anthropic"]}
    await ok(await api.put("/ai/settings", json=settings))
    models.openai.fail_next(2, 500)
    for _ in range(2):  # two server errors open OpenAI's breaker for this organization
        answer = await generate(api, "Hello")
        assert answer["provider"] == "anthropic"
        assert [(f["provider"], f["reason"]) for f in answer["fallbacks"]] == [("openai", "failed")]
    asked = len(models.openai.chat_bodies())
    answer = await generate(api, "Hello")
    assert answer["provider"] == "anthropic"
    assert answer["fallbacks"] == [{"provider": "openai", "reason": "breaker_open", "detail": ""}]
    assert len(models.openai.chat_bodies()) == asked  # an open breaker calls nothing
    health = await ok(await api.get("/ai/health"))
    openai = next(p for p in health["providers"] if p["provider"] == "openai")
    assert openai["breaker_state"] == "open"
    assert openai["last_error"]["error"] != ""

    # The admin resets it (the kernel's breaker API): OpenAI answers again.
    reset = await ok(await api.post("/ai/health/openai/reset", json={}))
    assert reset["breaker_state"] == "closed"
    assert (await generate(api, "Hello"))["provider"] == "openai"
