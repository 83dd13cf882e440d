"""The wallboard in a real browser: Chromium driven by Playwright, against the platform served
by uvicorn on loopback (background workers on, so events reach the real-time stream).

Runs when ``KRALIKI_TEST_BROWSER`` names a Chromium executable (CI installs Debian's
``chromium`` and sets ``/usr/bin/chromium``); skipped without it. A browser that is named
but does not start fails the tests. ``KRALIKI_TEST_SCREENSHOTS=docs/images`` also saves the
board with data as ``supervisor-wallboard.png`` (the picture in the supervisor guide).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, WebSocketRoute, expect
from supervisor_sessions_helpers import contact_center, ok, on_call, supervisor_phone
from wallboard_helpers import Board, live_session, person, raise_alert, seed, today

from kernel import Platform
from kernel.testing import (
    DEFAULT_TEST_PASSWORD,
    TenantOwner,
    browser_page,
    login,
    serve_app,
    wait_until,
)
from plugins.loopback.testing import LoopbackCalls

BROWSER = os.environ.get("KRALIKI_TEST_BROWSER", "")
SCREENSHOTS = os.environ.get("KRALIKI_TEST_SCREENSHOTS", "")
pytestmark = pytest.mark.skipif(
    not BROWSER, reason="KRALIKI_TEST_BROWSER (a Chromium executable) is not set"
)

WAIT_MS = 15_000
"""Longest wait for the page (a busy CI machine); expectations end far sooner."""
LEG_WAIT_MS = 40_000
"""Longest wait for a supervisor's phone to be rung, answer and join the call."""
WIDE = {"width": 1400, "height": 1000}
PAGE_PATH = "/api/v1/supervisor/wallboard/page/"

expect.set_options(timeout=WAIT_MS)


@dataclass
class World:
    """Organization ``acme``: its owner, and Sue, a supervisor who leads team 0 of two."""

    platform: Platform
    client: httpx.AsyncClient
    base_url: str
    owner: TenantOwner
    board: Board
    lead_id: uuid.UUID
    lead: dict[str, str]
    """Sue's ``Authorization`` headers."""
    email: str = "sue@acme.example.com"

    async def force(self, agent_id: uuid.UUID, state: str, reason_code: str | None = None) -> None:
        """The owner sets an agent's state through the API."""
        response = await self.client.put(
            f"/api/v1/agents/{agent_id}/state",
            headers=self.owner.headers,
            json={"state": state, "reason_code": reason_code, "reason": "test"},
        )
        assert response.status_code == 200, response.text


async def make_world(
    kraliki_app, kraliki_client, kraliki_make_owner, kraliki_make_user, **shape: Any
) -> AsyncIterator[World]:
    platform = kraliki_app.state.platform
    async with serve_app(kraliki_app) as base_url:
        owner = await kraliki_make_owner("acme")
        lead_id, lead = await person(kraliki_client, kraliki_make_user, owner, "sue", "supervisor")
        for code, label in (("break", "Short break"), ("lunch", "Lunch")):
            response = await kraliki_client.post(
                "/api/v1/agents/reason-codes",
                headers=owner.headers,
                json={"code": code, "label": label},
            )
            assert response.status_code == 201, response.text
        board = await seed(platform, kraliki_client, owner, leader=lead_id, **shape)
        yield World(platform, kraliki_client, base_url, owner, board, lead_id, lead)


@pytest.fixture
async def world(kraliki_app, kraliki_client, kraliki_make_owner, kraliki_make_user):
    # No caller waits: forcing an agent available must not have routing offer a call.
    async for world in make_world(
        kraliki_app,
        kraliki_client,
        kraliki_make_owner,
        kraliki_make_user,
        teams=2,
        agents_per_team=6,
        queues=2,
        waiting=False,
    ):
        yield world


@pytest.fixture
def expected_errors() -> list[str]:
    """Console errors a test expects (text in them): the browser logs a refused request."""
    return []


@pytest.fixture
async def page(expected_errors: list[str]) -> AsyncIterator[Page]:
    """A fresh wide browser; the test fails on any script error or console error (a
    Content-Security-Policy violation, a failed request) it does not expect."""
    async with browser_page(BROWSER, WIDE, expected_errors=expected_errors) as opened:
        yield opened


async def sign_in(page: Page, url: str, organization: str, email: str) -> None:
    await page.goto(url)
    await page.get_by_label("Organization").fill(organization)
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(DEFAULT_TEST_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#connection")).to_have_text("Live")


def tile(page: Page, agent_id: uuid.UUID | str):
    return page.locator(f'[data-agent-id="{agent_id}"]')


@dataclass
class Stream:
    """The page's real-time connections, passed through to the server and watched; while
    ``held``, a new connection is kept from the server (the page waits for its answer), and
    ``tamper`` may rewrite what the page subscribes with."""

    routes: list[WebSocketRoute]
    subscribes: list[dict[str, Any]]
    events: list[dict[str, Any]]
    held: bool = False
    kept: list[WebSocketRoute] = field(default_factory=list)
    """The connections held from the server."""
    tamper: Callable[[dict[str, Any]], None] | None = None


async def watch_stream(page: Page) -> Stream:
    stream = Stream([], [], [])

    def through(ws: WebSocketRoute) -> None:
        stream.routes.append(ws)
        if stream.held:
            stream.kept.append(ws)
            return  # no server behind it: the page's subscribe goes nowhere

        server = ws.connect_to_server()

        def to_server(message: str | bytes) -> None:
            data = json.loads(message)
            if data["type"] == "subscribe":
                stream.subscribes.append(dict(data))
                if stream.tamper is not None:
                    stream.tamper(data)
                    message = json.dumps(data)
            server.send(message)

        def to_page(message: str | bytes) -> None:
            data = json.loads(message)
            if data["type"] == "event":
                stream.events.append(data["event"])
            ws.send(message)

        ws.on_message(to_server)
        server.on_message(to_page)

    await page.route_web_socket(re.compile(r"/api/v1/realtime$"), through)
    return stream


async def hold(stream: Stream, page: Page) -> None:
    """Drop the page's connection and keep the next one from the server, until the page
    has made it (it retries after a second)."""
    stream.held = True
    await stream.routes[-1].close(code=1012, reason="restart")
    await expect(page.locator("#connection")).not_to_have_text("Live")
    await wait_until(lambda: stream.kept, within=WAIT_MS / 1000)


async def release(stream: Stream) -> None:
    """Close the held connections: the page connects again, to the server this time."""
    stream.held = False
    for held in stream.kept:
        await held.close(code=1012, reason="restart")
    stream.kept.clear()


async def test_the_board_follows_state_changes_and_stays_right_across_reconnects(
    world: World, page: Page
):
    stream = await watch_stream(page)
    await sign_in(page, world.base_url + PAGE_PATH, "acme", world.email)
    mine = world.board.agents[world.board.teams[0]]
    agents = page.locator("#agents [data-agent-id]")
    await expect(agents).to_have_count(len(mine))  # only Sue's team
    await expect(page.locator("#queues tr")).to_have_count(2)
    snapshot = await page.evaluate("window.wallboard.position")
    assert stream.subscribes[0].get("last_event_id") is None or snapshot > 0

    # An agent's state changed through the API reaches the board over the stream.
    ana, ben, cleo = mine[0], mine[3], mine[5]  # available, away, offline
    await page.evaluate("window.loadedOnce = true")
    await world.force(ana, "away", "lunch")
    await expect(tile(page, ana)).to_have_attribute("data-state", "away")
    await expect(tile(page, ana).locator(".badge")).to_have_text("Away")
    await expect(tile(page, ana).locator(".agent-detail")).to_have_text("Lunch")
    await expect(tile(page, ana).locator(".in-state")).to_have_text(re.compile(r"^0:0\d$"))
    assert any(e["type"] == "agents.agent.state_changed" for e in stream.events)
    assert await page.evaluate("window.loadedOnce") is True  # no page reload
    snapshots = await page.evaluate("window.wallboard.snapshots")

    # The stream drops and the page cannot get back at once: changes made meanwhile are on
    # the board once it resumes after the last event it saw (no new snapshot needed).
    seen = stream.events[-1]["id"]
    await hold(stream, page)
    await world.force(ben, "offline")
    await world.force(cleo, "available")
    await page.wait_for_timeout(300)  # dispatched meanwhile; the page hears nothing
    await expect(tile(page, ben)).not_to_have_attribute("data-state", "offline")
    await release(stream)
    await expect(tile(page, ben)).to_have_attribute("data-state", "offline")
    await expect(tile(page, cleo)).to_have_attribute("data-state", "available")
    await expect(page.locator("#connection")).to_have_text("Live")
    assert stream.subscribes[-1]["last_event_id"] == seen
    assert await page.evaluate("window.wallboard.snapshots") == snapshots
    assert await page.evaluate("window.wallboard.resets") == 0

    # Resuming is impossible (the page's resume point is unknown to the server): it hears
    # a reset and reads the board again, and changes made while it was away are there.
    await hold(stream, page)
    await world.force(ana, "available")
    await page.wait_for_timeout(300)

    def forget(subscribe: dict[str, Any]) -> None:
        subscribe["last_event_id"] = str(uuid.uuid4())

    stream.tamper = forget
    await release(stream)
    await expect(tile(page, ana)).to_have_attribute("data-state", "available")
    assert await page.evaluate("window.wallboard.resets") == 1
    assert await page.evaluate("window.wallboard.snapshots") == snapshots + 1
    stream.tamper = None

    # And it goes on following live changes after the reset.
    await world.force(ana, "offline")
    await expect(tile(page, ana)).to_have_attribute("data-state", "offline")
    assert await page.evaluate("window.loadedOnce") is True


async def test_alerts_and_sessions_arrive_and_a_problem_is_shown(
    world: World, page: Page, expected_errors: list[str]
):
    """Alerts raised and cleared, sessions from the snapshot; a refused Listen shows the
    API's problem detail to the supervisor."""
    board = world.board
    talking = next(a for a in board.agents[board.teams[0]] if a in board.calls)
    await raise_alert(world.platform, world.owner.tenant_id, "Queue 00")
    await live_session(
        world.platform, world.owner.tenant_id, talking, board.calls[talking], str(uuid.uuid4())
    )
    await sign_in(page, world.base_url + PAGE_PATH, "acme", world.email)
    await expect(page.locator("#alerts li")).to_have_count(1)
    await expect(page.locator("#alert-count")).to_have_text("1")
    agent = tile(page, talking)
    await expect(agent.locator(".supervision-note.others")).to_have_text("Supervised (monitor)")
    await expect(agent.locator(".agent-detail")).to_have_text(re.compile(r"^Call 0:\d\d$"))

    # The seeded call is no conversation a supervisor can join: the API refuses, and the
    # page shows the problem's detail, as the API gives it.
    refused = await world.client.post(
        "/api/v1/supervisor/sessions",
        headers=world.lead,
        json={"agent_id": str(talking), "mode": "monitor"},
    )
    assert refused.status_code >= 400
    expected_errors.append(f"status of {refused.status_code}")
    name = await agent.locator(".agent-name").text_content()
    await agent.get_by_role("button", name="Listen").click()
    error = page.locator("#board-error")
    await expect(error).to_have_text(f"Listen ({name}): {refused.json()['detail']}")
    await expect(agent.get_by_role("button", name="Listen")).to_be_enabled()


async def test_screenshot_of_a_busy_board(
    kraliki_app, kraliki_client, kraliki_make_owner, kraliki_make_user, page: Page
):
    """A board with data: agents in every state, callers waiting, an alert, a session.
    Saved as ``supervisor-wallboard.png`` with ``KRALIKI_TEST_SCREENSHOTS``."""
    async for world in make_world(
        kraliki_app,
        kraliki_client,
        kraliki_make_owner,
        kraliki_make_user,
        teams=3,
        agents_per_team=8,
        queues=4,
        led_teams=3,
    ):
        board = world.board
        tenant = world.owner.tenant_id
        await raise_alert(world.platform, tenant, "Queue 02")
        for n, queue_id in enumerate(board.queues):
            waits = [5.0, 12.0, 18.0, 25.0, 40.0][: 5 - n] * (n + 2)
            await today(world.platform, tenant, queue_id, answered=waits, abandoned=n)
        talking = [a for a in board.all_agents() if a in board.calls]
        await live_session(
            world.platform, tenant, talking[0], board.calls[talking[0]], str(uuid.uuid4())
        )
        await live_session(
            world.platform, tenant, talking[1], board.calls[talking[1]], str(world.lead_id)
        )
        await sign_in(page, world.base_url + PAGE_PATH, "acme", world.email)
        await expect(page.locator("#agents [data-agent-id]")).to_have_count(24)
        await expect(page.locator("#queues tr")).to_have_count(4)
        await expect(page.locator("#queues tr").first.locator(".waiting")).to_have_text("2")
        await expect(page.locator("#totals")).to_contain_text("8 waiting")
        await expect(tile(page, talking[1]).locator(".supervision-note.mine")).to_have_text(
            "You are listening"
        )
        await expect(page.locator("#queues tr").first.locator(".service")).to_have_text("60.0 %")
        if SCREENSHOTS:
            await page.wait_for_timeout(1100)  # one tick of the timers
            await page.screenshot(
                path=Path(SCREENSHOTS) / "supervisor-wallboard.png", full_page=True
            )


async def test_whisper_from_the_board_then_barge_then_end(
    loopback_calls: LoopbackCalls, page: Page
):
    """On the loopback carrier: a caller talks to a simulated agent; the owner (a supervisor
    with a loopback phone of their own) whispers from the board, switches to barge, ends."""
    async with httpx.AsyncClient(
        base_url=f"{loopback_calls.url}/api/v1", headers=loopback_calls.headers, timeout=30
    ) as api:
        center = await contact_center(api)
        await supervisor_phone(api)
        caller = ["answer", {"step": "press", "digits": "2"}, {"step": "wait", "seconds": 14400}]
        body = {"to": "+14155550123", "from": "+14155550100", "flow_id": center.flow_id}
        await ok(await api.post("/calls", json={**body, "options": {"script": caller}}), 201)
        await on_call(api, center.agent_id)

        async def live_sessions() -> list[dict[str, Any]]:
            found = await ok(await api.get("/supervisor/sessions", params={"live": "true"}))
            return list(found["items"])

        await sign_in(
            page, loopback_calls.url + PAGE_PATH, "loopback", "owner@loopback.example.com"
        )
        agent = tile(page, center.agent_id)
        await expect(agent).to_have_attribute("data-state", "on_call")
        await expect(agent.locator(".agent-detail")).to_have_text(re.compile(r"^Call \d+:\d\d$"))
        await agent.get_by_role("button", name="Whisper").click()
        mine = agent.locator(".supervision-note.mine")
        # The phone rings, then answers: the session's events bring the board along. Placing
        # the leg waits for the carrier's first webhooks, answering for the next ones: on a
        # loaded CI machine that chain took longer than one step's wait (SQLite, 2 cores).
        await expect(mine).to_have_text("You are whispering", timeout=LEG_WAIT_MS)
        [session] = await live_sessions()
        assert (session["mode"], session["status"]) == ("whisper", "active")
        assert session["agent_id"] == center.agent_id
        await expect(agent.get_by_role("button", name="Whisper")).to_have_count(0)

        await agent.get_by_role("button", name="Barge").click()
        await expect(mine).to_have_text("You are barging in")
        [session] = await live_sessions()
        assert (session["mode"], session["mode_changes"]) == ("barge", 1)

        await agent.get_by_role("button", name="End").click()
        await expect(mine).to_have_count(0)
        await expect(agent.get_by_role("button", name="Listen")).to_be_visible()
        assert await live_sessions() == []
        assert await page.locator("#board-error").is_hidden()


async def test_an_agent_signing_in_is_told_the_board_is_not_theirs(
    world: World, page: Page, expected_errors: list[str], kraliki_make_user
):
    await kraliki_make_user(world.owner.tenant_id, "ana@acme.example.com", roles=["agent"])
    refused = await world.client.get(
        "/api/v1/supervisor/wallboard",
        headers=await login(world.client, "ana@acme.example.com", tenant="acme"),
    )
    assert refused.status_code == 403
    expected_errors.append("status of 403")
    await page.goto(world.base_url + PAGE_PATH)
    await page.get_by_label("Organization").fill("acme")
    await page.get_by_label("E-mail").fill("ana@acme.example.com")
    await page.get_by_label("Password").fill(DEFAULT_TEST_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#sign-in-error")).to_have_text(refused.json()["detail"])
    await expect(page.locator("#board")).to_be_hidden()
