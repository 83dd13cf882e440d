"""HTTP lookup nodes for real: a tenant's system served on loopback, the platform's outbound
rules (refused unless the operator allows private addresses), the vault's bearer token, a
slow or broken system taking the error exit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from ivr_helpers import flow

from kernel import tenant_scope
from kernel.testing import serve_app

pytestmark = pytest.mark.usefixtures("tenant")


def lookup_flow(base: str) -> dict[str, Any]:
    """The scheme and host of a lookup are written in the flow, never templated."""
    return flow(
        "crm",
        crm={
            "type": "http_lookup",
            "url": base + "/customers?phone={{ call.caller }}",
            "auth": "bearer",
            "timeout_seconds": 1,
            "assign": {"name": "customer.name"},
            "exits": {"next": "hello", "not_found": "bye", "error": "sorry"},
        },
        hello={"type": "say", "text": "Hello {{ name }}.", "exits": {"next": "bye"}},
        sorry={"type": "say", "text": "Our systems are slow.", "exits": {"next": "bye"}},
        bye={"type": "hangup"},
    )


class Crm:
    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.delay = 0.0
        self.status = 200
        self.url = ""

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/customers")
        async def customers(request: Request) -> Any:
            self.seen.append(
                {
                    "phone": request.query_params.get("phone"),
                    "auth": request.headers.get("authorization"),
                }
            )
            await asyncio.sleep(self.delay)
            if self.status != 200:
                from fastapi.responses import JSONResponse

                return JSONResponse({"error": "x"}, status_code=self.status)
            return {"customer": {"name": "Ada"}}

        return app


@pytest.fixture
async def crm() -> AsyncIterator[Crm]:
    system = Crm()
    async with serve_app(system.app()) as url:
        system.url = url
        yield system


@pytest.fixture
def private_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRALIKI_IVR_LOOKUP_ALLOW_PRIVATE_NETWORKS", "true")


async def simulate(client: httpx.AsyncClient, crm: Crm) -> dict[str, Any]:
    draft = lookup_flow(crm.url)
    created = await client.post("/api/v1/ivr/flows", json={"name": "Lookup", "draft": draft})
    response = await client.post(
        f"/api/v1/ivr/flows/{created.json()['id']}/simulate", json={"caller": "+15550100"}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def store_token(app, tenant) -> None:
    platform = app.state.platform
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            await platform.vault.put(session, "ivr.lookup_token", "crm-token-123", actor="test")
            await session.commit()


@pytest.mark.usefixtures("private_lookups")
async def test_a_live_lookup_sends_the_token_and_keeps_the_answer(client, crm, app, tenant):
    await store_token(app, tenant)
    result = await simulate(client, crm)
    assert result["path"] == ["crm:next", "hello:next", "bye:ended"]
    assert result["prompts"][0] == "Hello Ada."
    assert crm.seen == [{"phone": "+15550100", "auth": "Bearer crm-token-123"}]
    assert "crm-token-123" not in str(result)


@pytest.mark.usefixtures("private_lookups")
async def test_no_token_in_the_vault_is_the_error_exit(client, crm):
    result = await simulate(client, crm)
    assert result["path"][0] == "crm:error"
    assert result["steps"][0]["detail"] == {"error": "the vault has no ivr.lookup_token"}
    assert crm.seen == []


@pytest.mark.usefixtures("private_lookups")
@pytest.mark.parametrize(
    ("status", "delay", "exit_", "error"),
    [
        (404, 0.0, "not_found", None),
        (503, 0.0, "error", "answered 503"),
        (200, 3.0, "error", "timed out"),
    ],
)
async def test_a_missing_broken_or_slow_system(
    client, crm, app, tenant, status, delay, exit_, error
):
    await store_token(app, tenant)
    crm.status, crm.delay = status, delay
    result = await simulate(client, crm)
    assert result["path"][0] == f"crm:{exit_}"
    if error:
        assert result["steps"][0]["detail"]["error"] == error
        assert "Our systems are slow." in result["prompts"]


async def test_private_addresses_are_refused_by_default(client, crm, app, tenant):
    await store_token(app, tenant)
    result = await simulate(client, crm)
    assert result["path"][0] == "crm:error"
    assert result["steps"][0]["detail"]["error"].startswith("refused: ")
    assert crm.seen == []
