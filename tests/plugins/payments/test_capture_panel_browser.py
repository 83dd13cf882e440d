"""The agent page's Payment panel in a real browser: Chromium driven by Playwright against the
platform served on loopback (background workers on, the loopback carrier calling back, its
simulated agent-assisted capture keying the callee's test card).

Ana (an agent whose loopback phone answers) signs in and goes available; a customer calls,
presses 2 and is put through to her. She starts a card payment of 42.50, asks for each field
(the customer's phone keys the test card it holds), sees the card number only as a mask with
its last four digits, charges the card, and the panel says the payment was taken; the ledger
has it (capture path ``agent``, her user id). Runs when ``KRALIKI_TEST_BROWSER`` names a
Chromium executable; ``KRALIKI_TEST_SCREENSHOTS=docs/images`` saves the panel as
``payment-panel.png``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from payments_suite import ok
from playwright.async_api import Page, expect

from kernel.testing import browser_page, installed_plugin
from plugins.loopback.testing import LoopbackCalls, loopback_calls

BROWSER = os.environ.get("KRALIKI_TEST_BROWSER", "")
SCREENSHOTS = os.environ.get("KRALIKI_TEST_SCREENSHOTS", "")
pytestmark = [
    pytest.mark.skipif(
        not BROWSER, reason="KRALIKI_TEST_BROWSER (a Chromium executable) is not set"
    ),
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]
WAIT_MS = 40_000
LAPTOP = {"width": 900, "height": 1400}
EMAIL = "ana@loopback.example.com"
PASSWORD = "ana's password 123"
FIELDS = ("Card number", "Expiry date", "Security code", "Postal code")

expect.set_options(timeout=WAIT_MS)
__all__ = ["loopback_calls"]


@pytest.fixture
def kraliki_installed_plugins() -> list[object]:
    names = ("calls", "ivr", "loopback", "contacts", "agents", "queues", "payments")
    return [installed_plugin(name) for name in names]


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


def desk(queue_id: str) -> dict[str, Any]:
    return {
        "start": "menu",
        "nodes": {
            "menu": {
                "type": "menu",
                "greeting": "Welcome.",
                "options": [{"key": "2", "label": "billing"}],
                "exits": {"2": "billing", "no_input": "bye", "no_match": "bye"},
            },
            "billing": {"type": "queues.enqueue", "queue_id": queue_id},
            "bye": {"type": "hangup", "message": "Goodbye."},
        },
    }


async def contact_center(api: httpx.AsyncClient, user_id: str) -> str:
    """Ana's loopback phone (answers, stays on), the queue she serves, the desk flow."""
    body = {
        "display_name": "Ana Nová",
        "user_id": user_id,
        "reach": {
            "kind": "loopback",
            "loopback_script": [{"answer_after": 1}, {"hangup_after": 6000}],
        },
    }
    agent = await ok(await api.post("/agents", json=body), 201)
    queue = await ok(
        await api.post(
            "/queues", json={"name": "Billing", "wrap_up_seconds": 1, "agent_ids": [agent["id"]]}
        ),
        201,
    )
    flow = await ok(
        await api.post("/ivr/flows", json={"name": "Desk", "draft": desk(queue["id"])}), 201
    )
    await ok(await api.post(f"/ivr/flows/{flow['id']}/publish", json={}), 201)
    return str(flow["id"])


async def test_an_agent_takes_a_card_payment_from_her_page(
    loopback_calls: LoopbackCalls, api: httpx.AsyncClient, page: Page
):
    user = await ok(
        await api.post(
            "/users",
            json={"email": EMAIL, "password": PASSWORD, "roles": ["agent"], "display_name": "Ana"},
        ),
        201,
    )
    flow_id = await contact_center(api, user["id"])

    await page.goto(f"{loopback_calls.url}/api/v1/agents/page/")
    await page.get_by_label("Organization").fill("loopback")
    await page.get_by_label("E-mail").fill(EMAIL)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#connection")).to_have_text("Live updates on")
    panel = page.locator("#panel-payments")
    await expect(panel.get_by_role("heading", name="Payment")).to_be_visible()
    await expect(panel.locator(".capture-status")).to_contain_text("while you are on a call")
    await page.get_by_role("button", name="Available").click()
    await expect(page.locator("#state")).to_have_text("Available")

    customer = [
        "answer",
        {"step": "press", "digits": "2"},
        {"step": "card", "card": "visa"},
        {"step": "wait", "seconds": 14400},
    ]
    body = {"to": "+14155550123", "from": "+14155550100", "flow_id": flow_id}
    call = await ok(await api.post("/calls", json=body | {"options": {"script": customer}}), 201)
    await expect(page.locator("#state")).to_have_text("On a call")

    await panel.get_by_label("Amount").fill("42.50")
    await panel.get_by_label("Description").fill("Invoice 1042")
    await panel.get_by_role("button", name="Start card payment").click()
    await expect(panel.locator(".capture-summary")).to_contain_text("42.50")
    for label in FIELDS:
        row = panel.locator(".capture-field").filter(has_text=label)
        await row.get_by_role("button", name=f"Ask for {label.lower()}").click()
        await expect(row).to_have_attribute("data-state", "complete")
    card_number = panel.locator(".capture-field").filter(has_text="Card number")
    await expect(card_number.locator(".capture-value")).to_have_text("xxxxxxxxxxxx4242")
    await expect(panel.locator(".capture-body")).not_to_contain_text("424242424242")
    if SCREENSHOTS:
        await panel.screenshot(path=str(Path(SCREENSHOTS) / "payment-panel.png"))

    await panel.get_by_role("button", name="Charge card").click()
    await expect(panel.locator(".capture-outcome")).to_have_text("Payment taken: 42.50 USD.")

    [payment] = (await ok(await api.get("/payments", params={"call_id": call["id"]})))["items"]
    assert (payment["status"], payment["amount"], payment["capture_path"]) == (
        "succeeded",
        4250,
        "agent",
    )
    assert payment["agent_id"] == user["id"]
    assert payment["processor_payment_id"].startswith("lbpay_")
    await ok(await api.post(f"/calls/{call['id']}/hangup", json={}))
