"""What the preview-mode tests share (imported by name): an agent user with a profile in a
team, a preview campaign over contacts whose local time is midday (the calling window and
the campaign's hours allow the dials whatever the hour the tests run at)."""

from __future__ import annotations

from typing import Any

import httpx
from campaigns_helpers import BASE, NUMBER

from kernel import utcnow

ALL_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def midday_zone(hours_ahead: int = 0) -> str:
    """A fixed-offset zone where it is about midday now (``hours_ahead``: later there)."""
    offset = 12 - utcnow().hour + hours_ahead
    offset = (offset + 12) % 24 - 12  # Etc/GMT-14..+12 exist; keep within -12..+11
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


def night_zone() -> str:
    """A fixed-offset zone where it is about midnight now (outside every calling window)."""
    return midday_zone(12)


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def contact(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    name: str,
    number: str,
    zone: str | None = None,
) -> str:
    body = {"name": name, "phones": [number], "time_zone": zone or midday_zone()}
    made = await ok(await client.post("/api/v1/contacts", headers=headers, json=body), 201)
    return str(made["id"])


async def agent_profile(
    client: httpx.AsyncClient,
    owner_headers: dict[str, str],
    user_id: str,
    name: str,
    reach: dict[str, Any] | None = None,
) -> str:
    body = {
        "display_name": name,
        "user_id": user_id,
        "reach": reach or {"kind": "phone", "address": "+14155550777"},
    }
    made = await ok(await client.post("/api/v1/agents", headers=owner_headers, json=body), 201)
    return str(made["id"])


async def set_members(
    client: httpx.AsyncClient, owner_headers: dict[str, str], team_id: str, agent_ids: list[str]
) -> None:
    await ok(
        await client.put(
            f"/api/v1/agents/teams/{team_id}/members",
            headers=owner_headers,
            json={"agent_ids": agent_ids},
        )
    )


async def make_available(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    await ok(
        await client.put("/api/v1/agents/me/state", headers=headers, json={"state": "available"})
    )


async def preview_campaign(
    client: httpx.AsyncClient,
    owner_headers: dict[str, str],
    contact_ids: list[str],
    *,
    team_id: str | None = None,
    queue_id: str | None = None,
    name: str = "Renewals",
    **fields: Any,
) -> str:
    body = {
        "name": name,
        "mode": "preview",
        "source": {"kind": "list", "contact_ids": contact_ids},
        "caller_id": NUMBER,
        "consent_purpose": "informational",
        "schedule": {
            "time_zone": midday_zone(),
            "days": ALL_DAYS,
            "hours": [{"start": "07:00", "end": "17:00"}],
        },
        **({"team_id": team_id} if team_id else {}),
        **({"queue_id": queue_id} if queue_id else {}),
        **fields,
    }
    made = await ok(await client.post(BASE, headers=owner_headers, json=body), 201)
    await ok(await client.post(f"{BASE}/{made['id']}/activate", headers=owner_headers, json={}))
    return str(made["id"])


async def attempts(
    client: httpx.AsyncClient, headers: dict[str, str], campaign_id: str, **filters: Any
) -> list[dict[str, Any]]:
    page = await ok(
        await client.get(f"{BASE}/{campaign_id}/attempts", headers=headers, params=filters)
    )
    items: list[dict[str, Any]] = page["items"]
    return items
