"""Shared by the agent_assist tests (imported by name)."""

from __future__ import annotations

from typing import Any

import httpx

ARTICLES = "/api/v1/agent-assist/articles"

KB = """# Refunds for damaged items
Tags: billing, refunds
A damaged item is refunded in full within 14 days. Ask the customer for the order number.
The refund goes back to the card they paid with, in three to five working days.

# Changing a delivery address
Tags: delivery
The delivery address can be changed until the parcel leaves the warehouse.
Open the order and choose a new address; the customer gets a confirmation e-mail.

# Resetting a password
Tags: account
Send the customer a reset link from the account page. The link works for one hour.
"""


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def import_kb(client: httpx.AsyncClient, headers: dict[str, str], text: str = KB) -> Any:
    body = {"format": "markdown", "content": text}
    return await ok(await client.post(f"{ARTICLES}/import", headers=headers, json=body), 201)
