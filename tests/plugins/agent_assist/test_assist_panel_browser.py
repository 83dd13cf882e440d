"""The agent page's Assist panel in a real browser: Chromium driven by Playwright against the
platform served on loopback (background workers on, the loopback carrier calling back).

Ana (an agent whose loopback phone answers) signs in and goes available; a customer calls,
presses 2 for support and is put through to her, then says their parcel arrived damaged. The
suggestion appears on her page (the refund article, the suggested reply); she marks the
article useful and the feedback is stored. Runs when ``KRALIKI_TEST_BROWSER`` names a
Chromium executable; ``KRALIKI_TEST_SCREENSHOTS=docs/images`` saves the panel as
``agent-assist.png``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from assist_helpers import KB, ok
from assist_loopback import call_in, contact_center, customer_script
from playwright.async_api import Page, expect
from sqlalchemy import select

from kernel import tenant_scope
from kernel.testing import browser_page
from plugins.agent_assist.models import Feedback
from plugins.loopback.testing import LoopbackCalls

BROWSER = os.environ.get("KRALIKI_TEST_BROWSER", "")
SCREENSHOTS = os.environ.get("KRALIKI_TEST_SCREENSHOTS", "")
pytestmark = pytest.mark.skipif(
    not BROWSER, reason="KRALIKI_TEST_BROWSER (a Chromium executable) is not set"
)
WAIT_MS = 40_000
LAPTOP = {"width": 900, "height": 1400}
EMAIL = "ana@loopback.example.com"
PASSWORD = "ana's password 123"

expect.set_options(timeout=WAIT_MS)


@pytest.fixture
async def api(loopback_calls: LoopbackCalls) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"{loopback_calls.url}/api/v1", headers=loopback_calls.headers, timeout=30
    ) as client:
        yield client


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    async with browser_page(BROWSER, LAPTOP) as opened:
        yield opened


async def test_a_suggestion_reaches_the_agent_page_and_her_feedback_is_stored(
    loopback_calls: LoopbackCalls, api: httpx.AsyncClient, page: Page
):
    await ok(
        await api.post("/agent-assist/articles/import", json={"format": "markdown", "content": KB}),
        201,
    )
    user = await ok(
        await api.post(
            "/users",
            json={"email": EMAIL, "password": PASSWORD, "roles": ["agent"], "display_name": "Ana"},
        ),
        201,
    )
    agent_id, flow_id = await contact_center(api, user_id=user["id"])

    await page.goto(f"{loopback_calls.url}/api/v1/agents/page/")
    await page.get_by_label("Organization").fill("loopback")
    await page.get_by_label("E-mail").fill(EMAIL)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#connection")).to_have_text("Live updates on")
    panel = page.locator("#panel-agent-assist")
    await expect(panel.get_by_role("heading", name="Assist")).to_be_visible()
    await expect(panel.locator(".assist-status")).to_contain_text("while you are on a call")
    await page.get_by_role("button", name="Available").click()
    await expect(page.locator("#state")).to_have_text("Available")

    call_id = await call_in(api, flow_id, customer_script())
    await expect(page.locator("#state")).to_have_text("On a call")
    suggestion = panel.locator(".assist-suggestion")
    await expect(suggestion).to_have_count(1)
    await expect(suggestion.locator(".assist-said")).to_contain_text("arrived damaged")
    await expect(suggestion.locator(".assist-reply")).to_contain_text(
        "A damaged item is refunded in full within 14 days."
    )
    first = suggestion.locator(".assist-article").first
    await expect(first.locator(".assist-title")).to_have_text("Refunds for damaged items")
    await first.locator(".assist-title").click()
    await expect(first.locator(".assist-body")).to_contain_text("three to five working days")

    useful = first.get_by_role("button", name="Useful", exact=True)
    await useful.click()
    await expect(useful).to_have_attribute("aria-pressed", "true")
    await expect(panel.locator(".assist-status")).to_have_text("Thank you: noted.")
    if SCREENSHOTS:
        await panel.screenshot(path=str(Path(SCREENSHOTS) / "agent-assist.png"))

    article_id = await first.get_attribute("data-article-id")
    suggestion_id = await suggestion.get_attribute("data-suggestion-id")
    platform = loopback_calls.platform
    with tenant_scope(loopback_calls.tenant_id):
        async with platform.database.session() as session:
            [stored] = list(await session.scalars(select(Feedback)))
    assert (stored.suggestion_id, stored.article_id) == (
        uuid.UUID(str(suggestion_id)),
        uuid.UUID(str(article_id)),
    )
    assert (stored.useful, stored.used) == (True, False)
    assert agent_id
    await ok(await api.post(f"/calls/{call_id}/hangup", json={}))
