"""Who may open the real-time stream, and how the credential travels (never in the URL)."""

from __future__ import annotations

import json

import pytest
from fastapi import APIRouter, WebSocket
from realtime_support import closed_with, receive, subscribe

from kernel import PluginError, create_app
from kernel._auth import route_access, websocket_routes
from kernel._operators import PlatformOperator
from kernel._passwords import hash_password


async def test_the_bearer_subprotocol_authenticates(site):
    async with site.ws("alpha-agent") as ws:
        assert ws.subprotocol == "kraliki.v1"  # never the one carrying the token
        ready = await subscribe(ws, ["rt.*"])
        assert ready == {"type": "ready", "patterns": ["rt.*"], "position": 0, "replayed": 0}


async def test_a_first_auth_message_authenticates(site):
    async with site.ws(subprotocols=[]) as ws:
        assert ws.subprotocol is None
        await ws.send(json.dumps({"type": "auth", "token": site.accounts["alpha-agent"].access}))
        ready = await subscribe(ws, ["rt.thing.*"])
        assert ready["patterns"] == ["rt.thing.*"]


async def test_an_api_key_authenticates(site):
    created = await site.http.post(
        "/api/v1/api-keys",
        headers=site.accounts["alpha-admin"].headers,
        json={"name": "wallboard", "roles": ["integrator"]},
    )
    assert created.status_code == 201, created.text
    async with site.ws(token=created.json()["secret"]) as ws:
        await subscribe(ws, ["*"])
        ids = await site.publish("alpha-agent", count=1)
        assert (await receive(ws))["event"]["id"] == ids[0]


async def test_without_a_credential_the_first_message_must_be_auth(site):
    async with site.ws(subprotocols=["kraliki.v1"]) as ws:
        await ws.send(json.dumps({"type": "subscribe", "patterns": ["*"]}))
        code, messages = await closed_with(ws)
    assert code == 4001
    assert messages[-1]["type"] == "error"
    assert messages[-1]["code"] == 4001


@pytest.mark.parametrize("how", ["subprotocol", "message"])
async def test_a_bad_token_is_refused(site, how):
    bearer = how == "subprotocol"
    async with site.ws(token="not-a-token") if bearer else site.ws(subprotocols=[]) as ws:
        if how == "message":
            await ws.send(json.dumps({"type": "auth", "token": "not-a-token"}))
        code, messages = await closed_with(ws)
    assert code == 4001
    assert "invalid" in messages[-1]["message"]


@pytest.mark.parametrize("name", ["token", "access_token", "bearer"])
async def test_a_token_in_the_query_string_is_ignored(site, name):
    site.platform.realtime.auth_timeout = 0.3
    token = site.accounts["alpha-admin"].access
    async with site.ws(subprotocols=["kraliki.v1"], query=f"?{name}={token}") as ws:
        code, messages = await closed_with(ws)
    assert code == 4001
    assert "auth message within" in messages[-1]["message"]


async def test_platform_operators_have_no_stream(site):
    async with site.platform.database.session() as session:
        password_hash = hash_password("operator pw 123")
        session.add(PlatformOperator(email="ops@example.com", password_hash=password_hash))
        await session.commit()
    login = await site.http.post(
        "/api/v1/auth/login", json={"email": "ops@example.com", "password": "operator pw 123"}
    )
    operator = login.json()["access_token"]
    async with site.ws(token=operator) as ws:
        code, messages = await closed_with(ws)
    assert code == 4003
    assert "operators" in messages[-1]["message"]
    sse = await site.http.get(
        "/api/v1/realtime/sse",
        params={"events": "*"},
        headers={"Authorization": f"Bearer {operator}"},
    )
    assert sse.status_code == 403


@pytest.mark.parametrize(
    "message",
    [
        "not json",
        json.dumps({"type": "subscribe", "patterns": ["Calls.*"]}),
        json.dumps({"type": "subscribe", "patterns": []}),
        json.dumps({"type": "dance"}),
        json.dumps({"type": "auth", "token": "again"}),
    ],
)
async def test_a_bad_message_closes_with_4400(site, message):
    async with site.ws("alpha-agent") as ws:
        await ws.send(message)
        code, messages = await closed_with(ws)
    assert code == 4400
    assert messages[-1]["code"] == 4400


async def test_binary_frames_are_bad_messages(site):
    async with site.ws("alpha-agent") as ws:
        await ws.send(b'{"type": "subscribe", "patterns": ["*"]}')
        code, _ = await closed_with(ws)
    assert code == 4400


async def test_sse_needs_a_credential_and_patterns(site):
    sse = "/api/v1/realtime/sse"
    assert (await site.http.get(sse, params={"events": "*"})).status_code == 401
    headers = site.accounts["alpha-agent"].headers
    assert (await site.http.get(sse, headers=headers)).status_code == 422
    bad = await site.http.get(sse, params={"events": "Rt.*"}, headers=headers)
    assert bad.status_code == 422


async def test_sse_refuses_a_role_without_events_subscribe(site):
    """A custom role without events:subscribe cannot stream (403 / 4003)."""
    admin = site.accounts["alpha-admin"].headers
    role = await site.http.post(
        "/api/v1/roles", headers=admin, json={"name": "viewer", "permissions": ["rt.things:read"]}
    )
    assert role.status_code == 201, role.text
    key = await site.http.post(
        "/api/v1/api-keys", headers=admin, json={"name": "viewer", "roles": ["viewer"]}
    )
    token = key.json()["secret"]
    sse = await site.http.get(
        "/api/v1/realtime/sse",
        params={"events": "*"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert sse.status_code == 403
    async with site.ws(token=token) as ws:
        code, messages = await closed_with(ws)
    assert code == 4003
    assert "events:subscribe" in messages[-1]["message"]


def test_the_websocket_route_declares_its_permission(kraliki_settings):
    app = create_app(kraliki_settings, plugins=[])
    routes = {route.path: route_access(route) for route in websocket_routes(app)}
    assert routes == {"/api/v1/realtime": ("events:subscribe", None)}
    sse = app.openapi()["paths"]["/api/v1/realtime/sse"]["get"]
    assert "text/event-stream" in sse["responses"]["200"]["content"]
    assert sse["operationId"] == "realtime-realtime_sse"


def test_a_websocket_route_without_a_declaration_stops_the_app(kraliki_settings, make_plugin):
    router = APIRouter()

    @router.websocket("/feed")
    async def feed(websocket: WebSocket) -> None:
        await websocket.accept()

    with pytest.raises(PluginError, match="WebSocket route /api/v1/leaky/feed declares no"):
        create_app(kraliki_settings, plugins=[make_plugin("leaky", routers=[router])])
