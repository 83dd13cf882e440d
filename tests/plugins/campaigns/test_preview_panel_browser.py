"""The agent page's Preview panel in a real browser: Chromium driven by Playwright against
the platform served on loopback (background workers on, the loopback carrier calling back).

Ana (an agent of the campaign's team, a loopback agent whose phone answers) signs in, takes
the next contact: Ada, with her local time, her consent for the campaign's purpose, the
check's decision and her history (an earlier campaign's skip); she skips her with a reason,
schedules a callback for Ben, then calls Cleo: her phone rings, she answers, Cleo is dialled
and reached. Runs when ``KRALIKI_TEST_BROWSER`` names a Chromium executable;
``KRALIKI_TEST_SCREENSHOTS=docs/images`` saves the panel as ``campaigns-preview.png``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from campaigns_helpers import BASE, NUMBER
from playwright.async_api import Page, expect
from preview_helpers import contact, ok, preview_campaign

from kernel import Platform, utcnow
from kernel.testing import DEFAULT_TEST_PASSWORD, TenantOwner, browser_page, serve_app
from plugins.calls.testing import use_public_base_url

BROWSER = os.environ.get("KRALIKI_TEST_BROWSER", "")
SCREENSHOTS = os.environ.get("KRALIKI_TEST_SCREENSHOTS", "")
pytestmark = pytest.mark.skipif(
    not BROWSER, reason="KRALIKI_TEST_BROWSER (a Chromium executable) is not set"
)
WAIT_MS = 20_000
LAPTOP = {"width": 900, "height": 1400}
EMAIL = "ana@acme.example.com"

expect.set_options(timeout=WAIT_MS)


@dataclass
class World:
    platform: Platform
    client: httpx.AsyncClient
    page_url: str
    owner: TenantOwner
    campaign_id: str = ""


@pytest.fixture
async def world(
    kraliki_app, kraliki_client, kraliki_make_owner, kraliki_make_user, monkeypatch
) -> AsyncIterator[World]:
    monkeypatch.setenv("KRALIKI_LOOPBACK_TIME_SCALE", "0.05")
    platform = kraliki_app.state.platform
    async with serve_app(kraliki_app) as base_url:
        use_public_base_url(platform, base_url)
        owner = await kraliki_make_owner("acme")
        client, h = kraliki_client, owner.headers
        world = World(platform, client, f"{base_url}/api/v1/agents/page/", owner)
        await ok(
            await client.post(
                "/api/v1/calls/numbers", headers=h, json={"number": NUMBER, "provider": "loopback"}
            ),
            201,
        )
        team = await ok(
            await client.post("/api/v1/agents/teams", headers=h, json={"name": "Out"}), 201
        )
        user_id = await kraliki_make_user(owner.tenant_id, EMAIL, roles=["agent"])
        agent = await ok(
            await client.post(
                "/api/v1/agents",
                headers=h,
                json={
                    "user_id": str(user_id),
                    "display_name": "Ana Nová",
                    "reach": {
                        "kind": "loopback",
                        "loopback_script": [{"answer_after": 1}],
                    },
                    "wrap_up_seconds": 0,
                },
            ),
            201,
        )
        await ok(
            await client.put(
                f"/api/v1/agents/teams/{team['id']}/members",
                headers=h,
                json={"agent_ids": [agent["id"]]},
            )
        )
        ada = await contact(client, h, "Ada Lovelace", "+14155556001")
        ben = await contact(client, h, "Ben Franklin", "+14155556002")
        cleo = await contact(client, h, "Cleo Patra", "+14155556003")
        await ok(
            await client.post(
                f"/api/v1/contacts/{ada}/consents",
                headers=h,
                json={
                    "purpose": "informational",
                    "channel": "voice_call",
                    "action": "granted",
                    "source": "web_form",
                    "occurred_at": (utcnow() - timedelta(days=30)).isoformat(),
                },
            ),
            201,
        )
        # An earlier campaign skipped Ada (her history), through the API as the owner's
        # agent would.
        survey = await preview_campaign(client, h, [ada], team_id=team["id"], name="Survey")
        ana = await _login(client)
        first = await ok(
            await client.post(f"{BASE}/preview/next", headers=ana, json={"campaign_id": survey})
        )
        await ok(
            await client.post(
                f"{BASE}/{survey}/attempts/{first['attempt']['id']}/skip",
                headers=ana,
                json={"reason": "asked to be called after 5 pm"},
            )
        )
        world.campaign_id = await preview_campaign(
            client, h, [ada, ben, cleo], team_id=team["id"], name="Spring renewals"
        )
        yield world


async def _login(client: httpx.AsyncClient) -> dict[str, str]:
    from kernel.testing import login

    return await login(client, EMAIL, DEFAULT_TEST_PASSWORD, tenant="acme")


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    async with browser_page(BROWSER, LAPTOP) as opened:
        yield opened


async def test_preview_skip_schedule_a_callback_and_call(world: World, page: Page):
    await page.goto(world.page_url)
    await page.get_by_label("Organization").fill("acme")
    await page.get_by_label("E-mail").fill(EMAIL)
    await page.get_by_label("Password").fill(DEFAULT_TEST_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#connection")).to_have_text("Live updates on")
    panel = page.locator("#panel-campaigns-preview")
    await expect(panel.get_by_role("heading", name="Preview")).to_be_visible()

    await panel.get_by_role("button", name="Next contact").click()
    await expect(panel.locator(".preview-name")).to_have_text("Ada Lovelace")
    await expect(panel.locator(".preview-campaign")).to_have_text("Spring renewals")
    await expect(panel.locator(".preview-number")).to_have_text("+14155556001")
    await expect(panel.locator(".preview-local-time")).to_contain_text("12:")
    await expect(panel.locator(".preview-consent")).to_have_text("informational: allowed")
    await expect(panel).to_contain_text("granted (web_form")
    await expect(panel.locator(".preview-decision")).to_contain_text("allowed at")
    history = panel.locator("table.preview-history tbody tr")
    await expect(history).to_have_count(1)
    await expect(history.first).to_contain_text("Survey")
    await expect(history.first).to_contain_text("asked to be called after 5 pm")
    await expect(panel.get_by_role("button", name="Next contact")).to_be_disabled()
    if SCREENSHOTS:
        await panel.screenshot(path=str(Path(SCREENSHOTS) / "campaigns-preview.png"))

    # Skip needs a reason: the browser does not send the form without one.
    await panel.get_by_role("button", name="Skip").click()
    await expect(panel.locator(".preview-outcome")).to_have_count(0)
    await panel.get_by_label("Reason to skip").fill("wrong person")
    await panel.get_by_role("button", name="Skip").click()
    await expect(panel.locator(".preview-outcome")).to_have_text("Ended: skipped")

    # Ben: a callback tomorrow.
    await panel.get_by_role("button", name="Next contact").click()
    await expect(panel.locator(".preview-name")).to_have_text("Ben Franklin")
    tomorrow = await page.evaluate(
        "(() => { const d = new Date(Date.now() + 86400000); d.setSeconds(0, 0);"
        " const p = (n) => String(n).padStart(2, '0');"
        " return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}"
        "T${p(d.getHours())}:${p(d.getMinutes())}`; })()"
    )
    await panel.get_by_label("Call back at").fill(tomorrow)
    await panel.get_by_label("Note").fill("after the board meeting")
    await panel.get_by_role("button", name="Schedule callback").click()
    await expect(panel.locator(".preview-outcome")).to_have_text("Ended: callback scheduled")

    # Cleo: Ana calls; her phone answers, Cleo is dialled and reached.
    await page.get_by_role("button", name="Available", exact=True).click()
    await expect(page.locator("#state")).to_have_text("Available")
    await panel.get_by_role("button", name="Next contact").click()
    await expect(panel.locator(".preview-name")).to_have_text("Cleo Patra")
    await panel.get_by_role("button", name="Call", exact=True).click()
    await expect(panel.locator(".preview-outcome")).to_have_text("Ended: reached")
    response = await world.client.get(
        f"{BASE}/{world.campaign_id}/attempts", headers=world.owner.headers
    )
    outcomes = sorted(a["outcome"] for a in response.json()["items"])
    assert outcomes == ["callback", "human", "skipped"]
