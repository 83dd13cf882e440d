"""A call on a provider that cannot put a supervisor in a conference (an in-process provider
without the ``coaching`` capability, driven by its signed webhooks): a caller held by a
queue talks to Ana, and supervising her answers 409 naming the capability, with no phone
rung and no session recorded."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from supervisor_wire_helpers import (
    ANA_PHONE,
    CALLER,
    QUEUE_NUMBER,
    agent_of,
    ok,
    phone_agent,
    queue_on_number,
    run_dispatch,
    supervisor_phone,
    the_item,
)

from kernel.testing import TenantOwner
from plugins.calls import Capability
from plugins.calls.testing import (
    fakeline_log,
    fakeline_plugin,
    fakeline_webhook,
    set_call_settings,
    store_secrets,
)

PROVIDER = "nocoach"
SECRET = "nocoach-signing-secret"


@pytest.fixture
def kraliki_extra_plugins() -> list[object]:
    return [fakeline_plugin(PROVIDER, capabilities=frozenset(Capability) - {Capability.COACHING})]


@pytest.fixture
async def kraliki_app(kraliki_make_app: Any) -> FastAPI:
    """No background workers: the test runs the dispatch job itself."""
    app: FastAPI = await kraliki_make_app(background_workers=False)
    return app


async def webhook(
    client: httpx.AsyncClient, tenant_id: uuid.UUID, event: dict[str, Any], kind: str
) -> None:
    response = await fakeline_webhook(client, tenant_id, SECRET, [event], kind=kind, name=PROVIDER)
    assert response.status_code == 200, response.text


async def test_a_provider_without_coaching_is_a_conflict_naming_it(
    kraliki_app: FastAPI,
    client: httpx.AsyncClient,
    owner: TenantOwner,
    kraliki_make_user: Any,
) -> None:
    platform = kraliki_app.state.platform
    tenant = owner.tenant_id
    await store_secrets(platform, tenant, {f"{PROVIDER}.signing_key": SECRET})
    await set_call_settings(platform, tenant, primary_provider=PROVIDER, max_concurrent_calls=20)
    client.headers.update(owner.headers)
    ana = await phone_agent(client, kraliki_make_user, tenant)
    queue_id = await queue_on_number(client, PROVIDER, ana)
    await supervisor_phone(client)

    # A caller dials the queue's number; Ana's phone rings, she answers, they are bridged.
    inbound = {"type": "needs", "call": "TL-caller", "reason": "inbound", "direction": "inbound"}
    await webhook(client, tenant, inbound | {"from": CALLER, "to": QUEUE_NUMBER}, "voice")
    answered = {"type": "progress", "call": "TL-caller", "status": "in-progress"}
    await webhook(client, tenant, answered, "status")
    await run_dispatch(platform, tenant)
    [placed] = fakeline_log(platform, PROVIDER).placed
    assert placed.to_number == ANA_PHONE
    leg = (await ok(await client.get(f"/api/v1/calls/{placed.call_id}")))["provider_call_id"]
    await webhook(
        client, tenant, {"type": "progress", "call": leg, "status": "in-progress"}, "status"
    )
    await webhook(client, tenant, {"type": "needs", "call": leg, "reason": "answered"}, "voice")
    await run_dispatch(platform, tenant)
    assert (await the_item(client, queue_id))["status"] == "connected"
    assert (await agent_of(client, ana))["state"] == "on_call"

    refused = await client.post(
        "/api/v1/supervisor/sessions", json={"agent_id": ana, "mode": "monitor"}
    )
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["type"].endswith("/supervisor-capability-missing")
    assert (problem["capability"], problem["provider"]) == ("coaching", PROVIDER)
    assert len(fakeline_log(platform, PROVIDER).placed) == 1  # nobody else was rung
    listed = await ok(await client.get("/api/v1/supervisor/sessions"))
    assert listed["items"] == []
