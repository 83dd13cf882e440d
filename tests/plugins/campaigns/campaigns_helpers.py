"""What the campaigns tests share (imported by name: test directories are not packages).

Everything a campaign names is made through the owning plugin's API, as an organization
would: a number at the loopback provider, a queue, a team, contacts, a segment and a
published IVR flow."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

BASE = "/api/v1/campaigns"
NUMBER = "+14155550100"
CALLBACK = "+14155550199"
FLOW = {
    "start": "remind",
    "nodes": {
        "remind": {
            "type": "say",
            "text": "This is a reminder of your appointment tomorrow.",
            "exits": {"next": "bye"},
        },
        "bye": {"type": "hangup", "message": "Goodbye."},
    },
}


@dataclass
class World:
    headers: dict[str, str]
    queue_id: str
    team_id: str
    flow_id: str
    contact_ids: list[str]
    segment_id: str


async def _created(
    client: httpx.AsyncClient, url: str, headers: Mapping[str, str], body: Any
) -> Any:
    response = await client.post(url, headers=dict(headers), json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def make_world(client: httpx.AsyncClient, headers: Mapping[str, str]) -> World:
    await _created(
        client, "/api/v1/calls/numbers", headers, {"number": NUMBER, "provider": "loopback"}
    )
    queue = await _created(client, "/api/v1/queues", headers, {"name": "Sales"})
    team = await _created(client, "/api/v1/agents/teams", headers, {"name": "Outbound"})
    flow = await _created(client, "/api/v1/ivr/flows", headers, {"name": "Reminder", "draft": FLOW})
    published = await client.post(
        f"/api/v1/ivr/flows/{flow['id']}/publish", headers=dict(headers), json={}
    )
    assert published.status_code == 201, published.text
    contacts = [
        await _created(
            client,
            "/api/v1/contacts",
            headers,
            {"name": name, "phones": [f"+1415555{1000 + i}"], "tags": ["spring"]},
        )
        for i, name in enumerate(("Ada", "Ben", "Cleo"))
    ]
    segment = await _created(
        client,
        "/api/v1/contacts/segments",
        headers,
        {"name": "Spring", "filter": {"tags_any": ["spring"]}},
    )
    return World(
        headers=dict(headers),
        queue_id=queue["id"],
        team_id=team["id"],
        flow_id=flow["id"],
        contact_ids=[c["id"] for c in contacts],
        segment_id=segment["id"],
    )


def progressive(world: World, **fields: Any) -> dict[str, Any]:
    """A progressive campaign over the world's segment, answered by its queue's agents."""
    return {
        "name": "Spring renewals",
        "mode": "progressive",
        "source": {"kind": "segment", "segment_id": world.segment_id},
        "queue_id": world.queue_id,
        "caller_id": NUMBER,
        "consent_purpose": "informational",
        **fields,
    }


async def create(
    client: httpx.AsyncClient, world: World, body: Mapping[str, Any]
) -> dict[str, Any]:
    created: dict[str, Any] = await _created(client, BASE, world.headers, body)
    return created


def errors_at(response: httpx.Response) -> dict[str, str]:
    """A 422 problem's errors by location (``"source.contact_ids.1"``, body prefix dropped)."""
    assert response.status_code == 422, response.text
    return {
        ".".join(str(part) for part in error["loc"][1:]): error["message"]
        for error in response.json()["errors"]
    }
