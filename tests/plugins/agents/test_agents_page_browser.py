"""The agent page in a real browser: Chromium driven by Playwright, against the platform
served by uvicorn on loopback (background workers on, so events reach the real-time stream
and routing offers calls as in production), at a phone's width.

Runs when ``KRALIKI_TEST_BROWSER`` names a Chromium executable (CI installs Debian's
``chromium`` and sets ``/usr/bin/chromium``); skipped without it. A browser that is named
but does not start fails the tests. ``KRALIKI_TEST_SCREENSHOTS=docs/images`` also saves
the page with an offer showing as ``agent-page.png`` (the picture in the agents guide).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from agents_helpers import add_call, read_call, route
from playwright.async_api import Page, WebSocketRoute, expect
from sqlalchemy import select

from kernel import Platform, tenant_scope, utcnow
from kernel.testing import DEFAULT_TEST_PASSWORD, TenantOwner, browser_page, serve_app
from plugins.agents import AgentState
from plugins.calls import Call
from plugins.calls.testing import use_public_base_url
from plugins.queues import Offer, QueueItem

BROWSER = os.environ.get("KRALIKI_TEST_BROWSER", "")
SCREENSHOTS = os.environ.get("KRALIKI_TEST_SCREENSHOTS", "")
pytestmark = pytest.mark.skipif(
    not BROWSER, reason="KRALIKI_TEST_BROWSER (a Chromium executable) is not set"
)

WAIT_MS = 15_000
"""Longest wait for the page (a busy CI machine); expectations end far sooner."""
CALLER = "+14155550199"
AGENT_PHONE = "+14155550002"
"""On the loopback provider this number rings until the offer times out (never answers)."""
PHONE = {"width": 390, "height": 844}
TO_WRAP_UP = (AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP)

expect.set_options(timeout=WAIT_MS)


@dataclass
class World:
    """The served platform: organization ``acme``, its owner (a supervisor's powers), and
    Ana, a user with the agent role and an agent profile that asks before ringing."""

    platform: Platform
    client: httpx.AsyncClient
    page_url: str
    owner: TenantOwner
    agent_id: str
    email: str = "ana@acme.example.com"

    async def agent(self) -> dict[str, Any]:
        response = await self.client.get(
            f"/api/v1/agents/{self.agent_id}", headers=self.owner.headers
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def force(self, state: str, reason_code: str | None = None) -> None:
        """A supervisor sets Ana's state."""
        response = await self.client.put(
            f"/api/v1/agents/{self.agent_id}/state",
            headers=self.owner.headers,
            json={"state": state, "reason_code": reason_code, "reason": "test"},
        )
        assert response.status_code == 200, response.text

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.post(path, headers=self.owner.headers, json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())


@pytest.fixture
async def world(
    kraliki_app, kraliki_client, kraliki_make_owner, kraliki_make_user
) -> AsyncIterator[World]:
    platform = kraliki_app.state.platform
    async with serve_app(kraliki_app) as base_url:
        use_public_base_url(platform, base_url)  # the loopback provider reports here
        owner = await kraliki_make_owner("acme")
        world = World(platform, kraliki_client, f"{base_url}/api/v1/agents/page/", owner, "")
        user_id = await kraliki_make_user(owner.tenant_id, world.email, roles=["agent"])
        for code, label in (("lunch", "Lunch"), ("break", "Short break")):
            await world.post("/api/v1/agents/reason-codes", {"code": code, "label": label})
        agent = await world.post(
            "/api/v1/agents",
            {
                "user_id": str(user_id),
                "display_name": "Ana Nová",
                "reach": {"kind": "phone", "address": AGENT_PHONE},
                "auto_accept": False,
                "skills": [{"skill": "billing", "level": 7}],
                "languages": ["cs", "en"],
            },
        )
        world.agent_id = agent["id"]
        yield world


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    """A fresh browser at a phone's width; the test fails on any script error or console
    error (a Content-Security-Policy violation, a failed request)."""
    async with browser_page(BROWSER, PHONE) as opened:
        yield opened


async def sign_in(page: Page, world: World) -> None:
    await page.goto(world.page_url)
    await page.get_by_label("Organization").fill("acme")
    await page.get_by_label("E-mail").fill(world.email)
    await page.get_by_label("Password").fill(DEFAULT_TEST_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#connection")).to_have_text("Live updates on")


@dataclass
class Stream:
    """The page's real-time connections, passed through to the server and watched."""

    routes: list[WebSocketRoute]
    subscribes: list[dict[str, Any]]
    events: list[str]


async def watch_stream(page: Page) -> Stream:
    stream = Stream([], [], [])

    def through(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def to_server(message: str | bytes) -> None:
            data = json.loads(message)
            if data["type"] == "subscribe":
                stream.subscribes.append(data)
            server.send(message)

        def to_page(message: str | bytes) -> None:
            data = json.loads(message)
            if data["type"] == "event":
                stream.events.append(data["event"]["id"])
            ws.send(message)

        ws.on_message(to_server)
        server.on_message(to_page)
        stream.routes.append(ws)

    await page.route_web_socket(re.compile(r"/api/v1/realtime$"), through)
    return stream


async def test_sign_in_set_your_state_follow_changes_live_and_wrap_up(world: World, page: Page):
    stream = await watch_stream(page)
    await sign_in(page, world)
    state = page.locator("#state")
    await expect(state).to_have_text("Offline")
    await expect(page.locator("#profile-name")).to_have_text("Ana Nová")
    await expect(page.locator("#profile-skills")).to_have_text("billing 7")
    assert "last_event_id" not in stream.subscribes[0]

    await page.get_by_label("Away reason").select_option(label="Short break")
    await page.get_by_role("button", name="Away", exact=True).click()
    await expect(state).to_have_text("Away")
    await expect(page.locator("#state-detail")).to_have_text("(Short break)")
    agent = await world.agent()
    assert (agent["state"], agent["reason_code"]) == ("away", "break")

    # A supervisor's change reaches the open page over the stream, without a reload.
    await page.evaluate("window.loadedOnce = true")
    await world.force("available")
    await expect(state).to_have_text("Available")
    await expect(page.get_by_role("button", name="Available")).to_be_disabled()
    assert await page.evaluate("window.loadedOnce") is True
    assert stream.events  # it came over the stream

    # The stream drops: the page reconnects and resumes after the last event it saw.
    await stream.routes[0].close(code=1012, reason="restart")
    seen = list(stream.events)
    await world.force("offline")
    await expect(state).to_have_text("Offline")
    await expect(page.locator("#connection")).to_have_text("Live updates on")
    assert len(stream.routes) == 2
    assert stream.subscribes[1]["last_event_id"] == seen[-1]

    # Routing connects a call and ends it: the page offers the wrap-up, with its countdown.
    await world.force("available")
    await expect(state).to_have_text("Available")
    call_id = await add_call(world.platform, world.owner.tenant_id)
    await route(world.platform, world.owner.tenant_id, world.agent_id, *TO_WRAP_UP, call_id=call_id)
    await expect(state).to_have_text("Wrap-up")
    await expect(page.locator("#wrap-up-countdown")).to_have_text(re.compile(r"^0:[0-3]\d$"))
    await page.get_by_label("Disposition").fill("resolved")
    await page.get_by_label("Notes").fill("Changed the tariff.")
    await page.get_by_role("button", name="Save and finish wrap-up").click()
    await expect(state).to_have_text("Available")
    await expect(page.locator("#wrap-up")).to_be_hidden()
    call = await read_call(world.platform, world.owner.tenant_id, call_id)
    assert (call.disposition, call.notes) == ("resolved", "Changed the tariff.")
    assert await page.evaluate("window.loadedOnce") is True


async def waiting_call(platform: Platform, tenant_id: uuid.UUID, queue_id: str) -> QueueItem:
    """A caller who came through the IVR and waits in the queue (rows as the calls and
    queues plugins write them when a call enters a queue)."""
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            call = Call(
                direction="inbound",
                from_number=CALLER,
                to_number="+14155550100",
                provider="loopback",
                status="in-progress",
                answered_at=utcnow(),
            )
            session.add(call)
            await session.flush()
            item = QueueItem(
                queue_id=uuid.UUID(queue_id),
                call_id=call.id,
                provider="loopback",
                caller_number=CALLER,
                called_number="+14155550100",
                entered_at=utcnow() - timedelta(seconds=42),
                context={
                    "ivr": {
                        "flow_id": str(uuid.uuid4()),
                        "node": "to-billing",
                        "path": ["start", "menu", "billing"],
                        "variables": {"menu": "2"},
                    }
                },
            )
            session.add(item)
            await session.commit()
            return item


async def offers(world: World) -> list[str]:
    with tenant_scope(world.owner.tenant_id):
        async with world.platform.database.session() as session:
            rows = await session.scalars(select(Offer).order_by(Offer.created_at))
            return [row.status for row in rows]


async def test_an_offered_call_declined_then_accepted(world: World, page: Page):
    await world.post(
        "/api/v1/contacts",
        {"name": "Jana Dvořáková", "company": "Dvořák s.r.o.", "phones": [{"number": CALLER}]},
    )
    queue = await world.post("/api/v1/queues", {"name": "Billing", "agent_ids": [world.agent_id]})
    await waiting_call(world.platform, world.owner.tenant_id, queue["id"])
    await sign_in(page, world)
    state = page.locator("#state")
    await expect(state).to_have_text("Offline")

    # Ana becomes available: routing offers her the waiting call, the page shows it.
    await page.get_by_role("button", name="Available").click()
    offer = page.locator(".offer")
    await expect(offer.locator("h2")).to_have_text("Call offered to you")
    await expect(offer.locator(".offer-caller")).to_have_text(CALLER)
    await expect(offer.locator(".offer-contact")).to_have_text("Jana Dvořáková (Dvořák s.r.o.)")
    await expect(offer.locator(".offer-queue")).to_have_text("Billing")
    await expect(offer.locator(".offer-path li")).to_have_text(["start", "menu", "billing"])
    await expect(offer.locator(".offer-choices")).to_have_text("menu: 2")
    await expect(state).to_have_text("Call offered")
    await expect(page.locator("#offer")).to_have_attribute("aria-live", "assertive")
    if SCREENSHOTS:
        await page.set_viewport_size({"width": 760, "height": 900})
        await page.screenshot(path=Path(SCREENSHOTS) / "agent-page.png", full_page=True)
        await page.set_viewport_size(PHONE)

    # Declined: the offer goes, Ana is away (missed), the caller waits on.
    await offer.get_by_role("button", name="Decline").click()
    await expect(state).to_have_text("Away")
    await expect(page.locator("#state-detail")).to_have_text("(Missed a call)")
    await expect(offer).to_have_count(0)
    agent = await world.agent()
    assert (agent["state"], agent["reason_code"]) == ("away", "missed")
    assert await offers(world) == ["declined"]

    # Available again: the same caller is offered again; accepted, Ana's phone rings.
    await page.get_by_role("button", name="Available").click()
    await expect(offer.locator("h2")).to_have_text("Call offered to you")
    await offer.get_by_role("button", name="Accept").click()
    await expect(offer.locator("h2")).to_have_text("Your phone is ringing")
    await expect(offer.get_by_role("button", name="Accept")).to_be_hidden()
    assert await offers(world) == ["declined", "ringing"]
    assert (await world.agent())["state"] == "reserved"
