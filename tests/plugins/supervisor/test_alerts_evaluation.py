"""Each kind of alert rule raises an alert when its figure breaks the rule and clears it when
the figure recovers, through HTTP as a supervisor sees it (``/dashboard/alerts`` and the
history), with ``supervisor.alert.raised`` / ``cleared`` published once each and delivered
to a webhook endpoint. The background workers run the alerts job: events wake it (a
queue's figures, an agent's state), and the helpers wake it where nothing else would (a
breaker reset, an endpoint enabled) instead of waiting for its 10 s round."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta

import pytest
from supervisor_dash_helpers import (
    DASHBOARD,
    RULES,
    add_item,
    create_agent,
    create_queue,
    force_state,
    ok,
    until_alerts,
)

from kernel import CircuitOpenError, TransientError, hookimpl, tenant_scope, utcnow
from kernel.testing import published_events, wait_until
from plugins.supervisor import CampaignFigure
from plugins.webhooks.testing import WebhookReceiver


@pytest.fixture(autouse=True)
def webhooks_to_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The receiver listens on 127.0.0.1 (allowed explicitly, as an operator would)."""
    monkeypatch.setenv("KRALIKI_WEBHOOKS_ALLOW_PRIVATE_NETWORKS", "true")


class Campaigns:
    """Stands in for the campaigns plugin's figures (its own are tested with it)."""

    __name__ = "supervisor_test_campaigns"

    def __init__(self) -> None:
        self.figures: list[CampaignFigure] = []

    @hookimpl
    def kraliki_plugin_info(self):  # type: ignore[no-untyped-def]
        from kernel import PluginInfo

        return PluginInfo(name="supervisor_test_campaigns", version="1.0.0")

    @hookimpl
    def kraliki_supervisor_campaign_figures(
        self, session: object, campaign_ids: Sequence[uuid.UUID] | None
    ) -> list[CampaignFigure]:
        if campaign_ids is None:
            return [f for f in self.figures if f.state == "active"]
        return [f for f in self.figures if f.campaign_id in campaign_ids]


CAMPAIGNS = Campaigns()


@pytest.fixture
def kraliki_extra_plugins() -> list[object]:
    return [CAMPAIGNS]


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver() as server:
        yield server


async def rule(client, headers, **body) -> str:  # type: ignore[no-untyped-def]
    created = await ok(await client.post(RULES, headers=headers, json={"name": "r", **body}), 201)
    return str(created["id"])


async def history(client, headers, **params) -> list[dict]:  # type: ignore[no-untyped-def]
    page = await ok(await client.get(f"{DASHBOARD}/alerts/history", headers=headers, params=params))
    return list(page["items"])


async def alert_events(platform, tenant_id) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [
        (name, str(payload["subject_key"]))
        for name, payload in await published_events(platform, tenant_id)
        if name.startswith("supervisor.alert.")
    ]


async def test_a_queues_longest_wait_raises_and_clears_and_reaches_a_webhook(
    kraliki_client, kraliki_make_owner, kraliki_platform, receiver
):
    client, platform, owner = kraliki_client, kraliki_platform, await kraliki_make_owner("acme")
    endpoint = await client.post(
        "/api/v1/webhooks/endpoints",
        headers=owner.headers,
        json={"url": f"{receiver.url}/hook", "event_types": ["supervisor.alert.*"]},
    )
    assert endpoint.status_code == 201, endpoint.text
    queue_id = await create_queue(client, owner.headers)
    other = await create_queue(client, owner.headers, "Sales")
    item = await add_item(
        platform,
        owner.tenant_id,
        queue_id,
        status="waiting",
        entered_at=utcnow() - timedelta(seconds=120),
    )
    await add_item(
        platform,
        owner.tenant_id,
        other,
        status="waiting",
        entered_at=utcnow() - timedelta(seconds=120),
    )
    rule_id = await rule(
        client,
        owner.headers,
        kind="queue_longest_wait",
        threshold=60,
        subject_id=queue_id,
        severity="critical",
    )
    [alert] = await until_alerts(client, owner.headers, rule_id, 1)
    assert (alert["subject_type"], alert["subject_key"], alert["subject_name"]) == (
        "queue",
        queue_id,
        "Support",
    )
    assert alert["severity"] == "critical"
    assert alert["threshold"] == 60.0
    assert alert["value"] >= 120.0
    assert "Support: a caller has waited" in alert["message"]

    # The caller is taken out of the line: the queue's figures change, the alert clears.
    taken = await client.delete(f"/api/v1/queues/calls/{item}", headers=owner.headers)
    assert taken.status_code in (200, 204), taken.text
    await until_alerts(client, owner.headers, rule_id, 0)
    [past] = await history(client, owner.headers)
    assert (past["id"], past["status"]) == (alert["id"], "cleared")
    assert past["cleared_at"] is not None
    assert await alert_events(platform, owner.tenant_id) == [
        ("supervisor.alert.raised", queue_id),
        ("supervisor.alert.cleared", queue_id),
    ]
    await wait_until(lambda: len(receiver.processed) == 2, within=15)
    delivered = [json.loads(r.body) for r in receiver.processed]
    assert [(d["type"], d["data"]["alert_id"]) for d in delivered] == [
        ("supervisor.alert.raised", alert["id"]),
        ("supervisor.alert.cleared", alert["id"]),
    ]


async def test_a_queues_service_level_raises_and_clears_when_the_rule_changes(
    kraliki_client, kraliki_make_owner, kraliki_platform
):
    client, platform, owner = kraliki_client, kraliki_platform, await kraliki_make_owner("acme")
    queue_id = await create_queue(client, owner.headers, service_level_seconds=20)
    now = utcnow()
    for wait in (10, 30):  # one of two answered within 20 s: 50 %
        await add_item(
            platform,
            owner.tenant_id,
            queue_id,
            status="completed",
            entered_at=now - timedelta(seconds=60),
            wait_seconds=wait,
        )
    rule_id = await rule(client, owner.headers, kind="queue_service_level", threshold=80)
    [alert] = await until_alerts(client, owner.headers, rule_id, 1)
    assert (alert["subject_key"], alert["value"], alert["threshold"]) == (queue_id, 50.0, 80.0)
    changed = await client.patch(
        f"{RULES}/{rule_id}", headers=owner.headers, json={"threshold": 40}
    )
    assert changed.status_code == 200, changed.text
    await until_alerts(client, owner.headers, rule_id, 0)
    assert [a["status"] for a in await history(client, owner.headers)] == ["cleared"]


async def test_an_agent_away_too_long_raises_and_clears_when_they_are_back(
    kraliki_client, kraliki_make_owner, kraliki_platform
):
    client, platform, owner = kraliki_client, kraliki_platform, await kraliki_make_owner("acme")
    ada = await create_agent(client, owner.headers, "Ada")
    bob = await create_agent(client, owner.headers, "Bob")
    rule_id = await rule(client, owner.headers, kind="agent_break", threshold=0.01)  # 0.6 s
    await force_state(client, owner.headers, ada, "away")
    await force_state(client, owner.headers, bob, "available")
    await asyncio.sleep(0.7)
    [alert] = await until_alerts(
        client, owner.headers, rule_id, 1, platform=platform, tenant_id=owner.tenant_id
    )
    assert (alert["subject_type"], alert["subject_key"], alert["subject_name"]) == (
        "agent",
        ada,
        "Ada",
    )
    assert "Ada has been away (break)" in alert["message"]
    await force_state(client, owner.headers, ada, "available")  # the event wakes the job
    await until_alerts(client, owner.headers, rule_id, 0)


async def test_a_campaigns_abandonment_raises_and_clears(
    kraliki_client, kraliki_make_owner, kraliki_platform
):
    client, platform, owner = kraliki_client, kraliki_platform, await kraliki_make_owner("acme")
    campaign = uuid.uuid4()

    def figure(rate: float) -> CampaignFigure:
        return CampaignFigure(campaign, "Spring", "active", "predictive", 100, int(rate), rate)

    CAMPAIGNS.figures = [figure(4.0)]
    try:
        rule_id = await rule(
            client,
            owner.headers,
            kind="campaign_abandonment",
            threshold=3,
            subject_id=str(campaign),
        )
        [alert] = await until_alerts(client, owner.headers, rule_id, 1)
        assert (alert["subject_type"], alert["subject_key"], alert["value"]) == (
            "campaign",
            str(campaign),
            4.0,
        )
        summary = await ok(await client.get(f"{DASHBOARD}/summary", headers=owner.headers))
        assert summary["campaigns"] == [
            {
                "campaign_id": str(campaign),
                "name": "Spring",
                "mode": "predictive",
                "answered_30d": 100,
                "abandoned_30d": 4,
                "abandonment_rate_30d": 4.0,
            }
        ]
        CAMPAIGNS.figures = [figure(2.0)]
        await until_alerts(
            client, owner.headers, rule_id, 0, platform=platform, tenant_id=owner.tenant_id
        )
    finally:
        CAMPAIGNS.figures = []


async def test_an_open_provider_breaker_raises_and_clears_when_reset(
    kraliki_client, kraliki_make_owner, kraliki_platform
):
    client, platform, owner = kraliki_client, kraliki_platform, await kraliki_make_owner("acme")
    rule_id = await rule(client, owner.headers, kind="provider_breaker_open")

    async def outage() -> None:
        raise TransientError("twilio", status=503)

    with tenant_scope(owner.tenant_id):
        for _ in range(10):
            states = await platform.resilience.breaker_states(owner.tenant_id)
            if states.get("twilio") == "open":
                break
            with pytest.raises((TransientError, CircuitOpenError)):
                await platform.resilience.call("twilio", outage, attempts=1)
    assert (await platform.resilience.breaker_states(owner.tenant_id))["twilio"] == "open"
    [alert] = await until_alerts(
        client, owner.headers, rule_id, 1, platform=platform, tenant_id=owner.tenant_id
    )
    assert (alert["subject_type"], alert["subject_key"]) == ("provider", "twilio")
    assert alert["message"] == "twilio: circuit breaker open"
    reset = await client.post("/api/v1/resilience/breakers/twilio/reset", headers=owner.headers)
    assert reset.status_code == 200, reset.text
    await until_alerts(
        client, owner.headers, rule_id, 0, platform=platform, tenant_id=owner.tenant_id
    )


async def test_a_disabled_webhook_endpoint_raises_and_clears_when_enabled(
    kraliki_client, kraliki_make_owner, kraliki_platform, receiver
):
    client, platform, owner = kraliki_client, kraliki_platform, await kraliki_make_owner("acme")
    created = await client.post(
        "/api/v1/webhooks/endpoints",
        headers=owner.headers,
        json={"url": f"{receiver.url}/crm", "description": "CRM", "event_types": ["queues.*"]},
    )
    assert created.status_code == 201, created.text
    endpoint = created.json()["id"]
    rule_id = await rule(client, owner.headers, kind="webhook_endpoint_disabled")
    path = f"/api/v1/webhooks/endpoints/{endpoint}"
    assert (
        await client.patch(path, headers=owner.headers, json={"enabled": False})
    ).status_code == 200
    [alert] = await until_alerts(
        client, owner.headers, rule_id, 1, platform=platform, tenant_id=owner.tenant_id
    )
    assert (alert["subject_type"], alert["subject_key"], alert["subject_name"]) == (
        "endpoint",
        endpoint,
        "CRM",
    )
    assert (
        await client.patch(path, headers=owner.headers, json={"enabled": True})
    ).status_code == 200
    await until_alerts(
        client, owner.headers, rule_id, 0, platform=platform, tenant_id=owner.tenant_id
    )


async def test_disabling_or_deleting_a_rule_clears_its_alerts_at_once(
    kraliki_client, kraliki_make_owner, kraliki_platform
):
    client, platform, owner = kraliki_client, kraliki_platform, await kraliki_make_owner("acme")
    queue_id = await create_queue(client, owner.headers)
    await add_item(
        platform,
        owner.tenant_id,
        queue_id,
        status="waiting",
        entered_at=utcnow() - timedelta(seconds=300),
    )
    first = await rule(client, owner.headers, kind="queue_longest_wait", threshold=60)
    second = await rule(client, owner.headers, kind="queue_longest_wait", threshold=120)
    await until_alerts(client, owner.headers, first, 1)
    await until_alerts(client, owner.headers, second, 1)

    off = await client.patch(f"{RULES}/{first}", headers=owner.headers, json={"enabled": False})
    assert off.status_code == 200, off.text
    now = await ok(await client.get(f"{DASHBOARD}/alerts", headers=owner.headers))
    assert [a["rule_id"] for a in now["items"]] == [second]
    deleted = await client.delete(f"{RULES}/{second}", headers=owner.headers)
    assert deleted.status_code == 204
    assert (await ok(await client.get(f"{DASHBOARD}/alerts", headers=owner.headers)))["items"] == []
    # The deleted rule's alerts went with it; the disabled rule's stay in the history.
    assert [(a["rule_id"], a["status"]) for a in await history(client, owner.headers)] == [
        (first, "cleared")
    ]
    names = [name for name, _ in await alert_events(platform, owner.tenant_id)]
    assert names == [
        "supervisor.alert.raised",
        "supervisor.alert.raised",
        "supervisor.alert.cleared",
        "supervisor.alert.cleared",
    ]
    # A disabled rule raises nothing while the wait goes on.
    await until_alerts(
        client, owner.headers, first, 0, platform=platform, tenant_id=owner.tenant_id
    )
