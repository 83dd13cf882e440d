"""What the supervisor's dashboard and alerts read of campaigns
(``kraliki_supervisor_campaign_figures``), through the supervisor's HTTP API: an active
campaign with its own 30-day abandonment figure in the summary, and its id accepted as an
alert rule's subject (an id of no campaign refused)."""

from __future__ import annotations

import uuid

import pytest
from reports_helpers import change_campaign, ok
from test_metrics import agent_day


@pytest.fixture(autouse=True)
def no_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """No background job may dial with the real clock meanwhile."""
    monkeypatch.setenv("KRALIKI_BACKGROUND_WORKERS", "false")


async def test_the_supervisor_sees_active_campaigns_with_their_30_day_abandonment(
    client, world, owner, platform
):
    campaign_id, _, _ = await agent_day(client, world, owner, platform)
    summary = await ok(
        await client.get("/api/v1/supervisor/dashboard/summary", headers=world.headers)
    )
    assert summary["campaigns"] == [
        {
            "campaign_id": campaign_id,
            "name": "Renewals",
            "mode": "progressive",
            "answered_30d": 4,
            "abandoned_30d": 2,
            "abandonment_rate_30d": 50.0,
        }
    ]

    rules = "/api/v1/supervisor/alerts/rules"
    body = {"name": "Abandons", "kind": "campaign_abandonment", "threshold": 3}
    accepted = await client.post(
        rules, headers=world.headers, json={**body, "subject_id": campaign_id}
    )
    assert accepted.status_code == 201, accepted.text
    refused = await client.post(
        rules, headers=world.headers, json={**body, "subject_id": str(uuid.uuid4())}
    )
    assert refused.status_code == 422, refused.text

    # A paused campaign leaves the summary; it is still a campaign a rule may name.
    await change_campaign(platform, owner.tenant_id, campaign_id, state="paused")
    summary = await ok(
        await client.get("/api/v1/supervisor/dashboard/summary", headers=world.headers)
    )
    assert summary["campaigns"] == []
    again = await client.post(
        rules, headers=world.headers, json={**body, "subject_id": campaign_id}
    )
    assert again.status_code == 201, again.text
