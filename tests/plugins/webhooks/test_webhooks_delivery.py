"""Deliveries to a real receiver (uvicorn on loopback): signatures, retries, dead letters,
replays, auto-disable, ordering per aggregate, exactly-once effect, tenant isolation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid

import pytest
from sqlalchemy import select
from standardwebhooks import WebhookVerificationError
from webhook_helpers import (
    ALL,
    OrderPaid,
    OrderPlaced,
    create_endpoint,
    make_tenant,
    publish,
    settle,
)

from kernel import DeliveredEvent, tenant_scope
from kernel.testing import outbox_events
from plugins.webhooks.models import WebhookAttempt, WebhookDelivery
from plugins.webhooks.service import fan_out
from plugins.webhooks.testing import Reply, WebhookReceiver


def hand_verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The spec's algorithm without the library: HMAC-SHA256 over "{id}.{timestamp}.{body}"
    keyed with the base64-decoded secret (after "whsec_"), compared in constant time with
    each "v1," signature of the header."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(expected, signature.removeprefix("v1,"))
        for signature in headers["webhook-signature"].split(" ")
    )


async def deliveries(client, **filters) -> list[dict]:
    response = await client.get("/api/v1/webhooks/deliveries", params=filters)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_signed_per_standard_webhooks(client, tenant, platform, receiver):
    endpoint = await create_endpoint(client, receiver.url + "/hook")
    secret = endpoint["secret"]
    await publish(platform, tenant, OrderPlaced(order_id="o-1", step=1))
    await settle(platform, lambda: len(receiver.requests) == 1)
    [request] = receiver.requests
    envelope = WebhookReceiver.verify(secret, request)
    assert hand_verify(secret, request.headers, request.body)
    assert envelope["type"] == "shop.order.placed"
    assert envelope["data"] == {"order_id": "o-1", "step": 1}
    assert envelope["tenant_id"] == str(tenant)
    assert envelope["aggregate"] == "shop.order:o-1"
    assert request.headers["webhook-id"] == envelope["id"]
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("Kraliki-Webhooks/")
    assert request.headers["webhook-signature"].startswith("v1,")
    with pytest.raises(WebhookVerificationError):
        WebhookReceiver.verify("whsec_" + base64.b64encode(b"x" * 32).decode(), request)
    tampered = request.body.replace(b"o-1", b"o-2")
    assert not hand_verify(secret, request.headers, tampered)
    [delivery] = await deliveries(client)
    assert delivery["status"] == "succeeded"
    assert delivery["event_id"] == envelope["id"]
    detail = (await client.get(f"/api/v1/webhooks/deliveries/{delivery['id']}")).json()
    assert detail["envelope"] == envelope
    [attempt] = detail["attempts"]
    assert attempt["status_code"] == 200
    assert attempt["response_excerpt"] == '{"ok":true}'
    assert attempt["latency_ms"] >= 0


async def test_rotation_signs_with_both_secrets_during_the_grace(
    client, tenant, platform, receiver
):
    endpoint = await create_endpoint(client, receiver.url + "/hook")
    old = endpoint["secret"]
    path = f"/api/v1/webhooks/endpoints/{endpoint['id']}"
    new = (await client.post(f"{path}/rotate-secret")).json()["secret"]
    await publish(platform, tenant, OrderPlaced(order_id="o-1"))
    await settle(platform, lambda: len(receiver.requests) == 1)
    request = receiver.requests[-1]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        WebhookReceiver.verify(secret, request)
        assert hand_verify(secret, request.headers, request.body)

    newest = (await client.post(f"{path}/rotate-secret", json={"grace_hours": 0})).json()["secret"]
    await publish(platform, tenant, OrderPlaced(order_id="o-2"))
    await settle(platform, lambda: len(receiver.requests) == 2)
    request = receiver.requests[-1]
    assert len(request.headers["webhook-signature"].split(" ")) == 1
    WebhookReceiver.verify(newest, request)
    for revoked in (old, new):
        with pytest.raises(WebhookVerificationError):
            WebhookReceiver.verify(revoked, request)


async def test_retries_after_server_errors_then_succeeds(client, tenant, platform, receiver):
    await create_endpoint(client, receiver.url + "/hook")
    receiver.fail_next(2, status=500, body=b"database is down " + b"x" * 2000)
    await publish(platform, tenant, OrderPlaced(order_id="o-1"))
    await settle(platform, lambda: len(receiver.processed) == 1)
    assert len(receiver.requests) == 3
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1  # receivers dedupe
    [delivery] = await deliveries(client)
    assert delivery["status"] == "succeeded"
    assert delivery["attempt_count"] == 3
    detail = (await client.get(f"/api/v1/webhooks/deliveries/{delivery['id']}")).json()
    assert [a["status_code"] for a in detail["attempts"]] == [500, 500, 200]
    assert [a["number"] for a in detail["attempts"]] == [1, 2, 3]
    first = detail["attempts"][0]
    assert first["response_excerpt"].startswith("database is down")
    assert len(first["response_excerpt"].encode()) == 1024  # a KiB at most
    assert all(a["latency_ms"] >= 0 for a in detail["attempts"])


async def test_a_slow_receiver_times_out_and_is_retried(
    kraliki_make_app, kraliki_authenticate, webhook_settings, receiver
):
    from kernel.testing import app_client

    webhook_settings(timeout_seconds="1")
    app = await kraliki_make_app(background_workers=False)
    platform = app.state.platform
    tenant = await make_tenant(platform, "slow")
    kraliki_authenticate(app, *ALL, kind="user", tenant_id=tenant)
    receiver.then(Reply(delay=3.0))
    async with app_client(app) as client:
        await create_endpoint(client, receiver.url + "/hook")
        await publish(platform, tenant, OrderPlaced(order_id="o-1"))
        await settle(platform, lambda: len(receiver.processed) == 1)
        [delivery] = await deliveries(client)
        detail = (await client.get(f"/api/v1/webhooks/deliveries/{delivery['id']}")).json()
    first, *_, last = detail["attempts"]
    assert first["error"] == "timed out"
    assert first["status_code"] is None
    assert first["latency_ms"] >= 900
    assert last["status_code"] == 200


async def test_dead_letter_then_replay_one_and_in_bulk(client, tenant, platform, receiver):
    failing = await create_endpoint(client, receiver.url + "/failing")
    monitor = await create_endpoint(client, receiver.url + "/monitor", event_types=["webhooks.*"])
    receiver.always(Reply(status=503), path="/failing")
    await publish(platform, tenant, OrderPlaced(order_id="o-1"), OrderPlaced(order_id="o-2"))

    async def both_dead() -> bool:
        return len(await deliveries(client, endpoint_id=failing["id"], status="dead")) == 2

    await settle(platform, both_dead)
    await settle(platform)
    dead = await deliveries(client, endpoint_id=failing["id"], status="dead")
    assert all(d["attempt_count"] == 4 and d["next_attempt_at"] is None for d in dead)
    # The tenant hears of it on its other endpoint (never on the failing one).
    notices = [r for r in receiver.processed if r.path == "/monitor"]
    assert {r.json()["type"] for r in notices} == {"webhooks.delivery.dead"}
    assert {r.json()["data"]["delivery_id"] for r in notices} == {d["id"] for d in dead}
    assert all(r.json()["type"].startswith("shop.") for r in receiver.to("/failing"))
    assert monitor["id"] not in {d["endpoint_id"] for d in dead}

    receiver.always(Reply())
    one = dead[0]
    replayed = await client.post(f"/api/v1/webhooks/deliveries/{one['id']}/replay")
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["status"] == "pending"
    await settle(platform)
    assert (await client.get(f"/api/v1/webhooks/deliveries/{one['id']}")).json()[
        "status"
    ] == "succeeded"

    bulk = await client.post(
        "/api/v1/webhooks/deliveries/replay", json={"endpoint_id": failing["id"]}
    )
    assert bulk.json() == {"replayed": 1}
    await settle(platform)
    assert await deliveries(client, endpoint_id=failing["id"], status="dead") == []
    processed = [r.json()["data"]["order_id"] for r in receiver.processed if r.path == "/failing"]
    assert sorted(processed) == ["o-1", "o-2"]
    # Same webhook-id as the first attempts: the receiver can tell a replay from news.
    ids = {r.headers["webhook-id"] for r in receiver.to("/failing")}
    assert len(ids) == 2


async def test_a_failing_endpoint_is_disabled_and_the_tenant_told(
    kraliki_make_app, kraliki_authenticate, webhook_settings, receiver
):
    from kernel.testing import app_client

    webhook_settings(disable_after_dead="2", retry_schedule="0.05")
    app = await kraliki_make_app(background_workers=False, breaker_failure_threshold=100)
    platform = app.state.platform
    tenant = await make_tenant(platform, "acme")
    kraliki_authenticate(app, *ALL, kind="user", tenant_id=tenant)
    async with app_client(app) as client:
        failing = await create_endpoint(client, receiver.url + "/failing")
        await create_endpoint(client, receiver.url + "/monitor", event_types=["webhooks.*"])
        receiver.always(Reply(status=500), path="/failing")
        await publish(platform, tenant, OrderPlaced(order_id="a"), OrderPlaced(order_id="b"))
        path = f"/api/v1/webhooks/endpoints/{failing['id']}"

        async def disabled() -> bool:
            return not (await client.get(path)).json()["enabled"]

        for _ in range(100):
            await settle(platform)
            if await disabled():
                break
        endpoint = (await client.get(path)).json()
        assert endpoint["enabled"] is False
        assert "2 deliveries in a row" in endpoint["disabled_reason"]
        assert endpoint["consecutive_failures"] == 4
        notices = receiver.events("/monitor")
        disabled_notice = [n for n in notices if n["type"] == "webhooks.endpoint.disabled"]
        assert [n["data"]["endpoint_id"] for n in disabled_notice] == [failing["id"]]

        # Disabled: new events are not queued for it; replays are refused until enabled.
        before = len(receiver.to("/failing"))
        await publish(platform, tenant, OrderPlaced(order_id="c"))
        await settle(platform)
        assert len(receiver.to("/failing")) == before
        assert len(await deliveries(client, endpoint_id=failing["id"])) == 2
        [dead, _] = await deliveries(client, endpoint_id=failing["id"], status="dead")
        refused = await client.post(f"/api/v1/webhooks/deliveries/{dead['id']}/replay")
        assert refused.status_code == 409
        assert refused.json()["type"] == "/problems/webhooks-endpoint-disabled"

        receiver.always(Reply())
        enabled = (await client.post(f"{path}/enable")).json()
        assert enabled["enabled"] is True
        assert enabled["consecutive_failures"] == 0
        replayed = await client.post(
            "/api/v1/webhooks/deliveries/replay", json={"endpoint_id": failing["id"]}
        )
        assert replayed.json() == {"replayed": 2}
        await settle(platform)
        assert sorted(e["data"]["order_id"] for e in receiver.events("/failing")) == ["a", "b"]


async def test_events_of_one_aggregate_arrive_in_order(client, tenant, platform, receiver):
    await create_endpoint(client, receiver.url + "/hook")
    receiver.fail_next(2)  # the first two requests fail: o-1's first event is retried
    await publish(
        platform,
        tenant,
        OrderPlaced(order_id="o-1", step=1),
        OrderPlaced(order_id="o-2", step=1),
        OrderPaid(order_id="o-1", step=2),
        OrderPaid(order_id="o-2", step=2),
        OrderPlaced(order_id="o-1", step=3),
    )
    await settle(platform, lambda: len(receiver.processed) == 5)
    per_order: dict[str, list[int]] = {}
    for request in receiver.requests:  # every request, failed ones included
        data = request.json()["data"]
        per_order.setdefault(data["order_id"], []).append(data["step"])
    for order, steps in per_order.items():
        # Never a later step before an earlier one succeeded (a retry repeats a step).
        assert steps == sorted(steps), (order, steps)
    processed = [(e["data"]["order_id"], e["data"]["step"]) for e in receiver.events()]
    assert [s for o, s in processed if o == "o-1"] == [1, 2, 3]
    assert [s for o, s in processed if o == "o-2"] == [1, 2]
    positions = [e["position"] for e in receiver.events() if e["data"]["order_id"] == "o-1"]
    assert positions == sorted(positions)


async def test_exactly_once_effect_despite_redelivery(client, tenant, platform, receiver):
    await create_endpoint(client, receiver.url + "/hook")
    await publish(platform, tenant, OrderPlaced(order_id="o-1"))
    await settle(platform, lambda: len(receiver.processed) == 1)

    # The dispatcher delivers at least once: the same event through the hook again.
    [row] = await outbox_events(platform, tenant)
    event: DeliveredEvent = row.delivered()
    for _ in range(2):
        with tenant_scope(tenant):
            assert await fan_out(platform, event) == 1
            await platform.hooks.notify("kraliki_event", platform=platform, event=event)
    await settle(platform)
    assert len(await deliveries(client)) == 1
    assert len(receiver.requests) == 1

    # A receiver that took the event in but failed to answer gets it again (same
    # webhook-id) and ignores it: one effect.
    receiver.then(Reply(status=500, process=True))
    await publish(platform, tenant, OrderPlaced(order_id="o-2"))
    await settle(platform, lambda: len(receiver.to("/hook")) == 3)
    await settle(platform)
    assert [e["data"]["order_id"] for e in receiver.events()] == ["o-1", "o-2"]
    assert len(receiver.requests) == 3
    assert receiver.requests[1].webhook_id == receiver.requests[2].webhook_id


async def test_tenant_a_never_receives_b_events(app, platform, receiver, kraliki_authenticate):
    from kernel.testing import app_client

    a = await make_tenant(platform, "alpha")
    b = await make_tenant(platform, "beta")
    async with app_client(app) as client:
        for tenant, path in ((a, "/alpha"), (b, "/beta")):
            kraliki_authenticate(app, *ALL, kind="user", tenant_id=tenant)
            await create_endpoint(client, receiver.url + path, event_types=["*"])
        await publish(platform, a, OrderPlaced(order_id="a-1"), OrderPaid(order_id="a-1"))
        await publish(platform, b, OrderPlaced(order_id="b-1"))
        await settle(platform, lambda: len(receiver.processed) == 3)
        await settle(platform)
        kraliki_authenticate(app, *ALL, kind="user", tenant_id=a)
        a_deliveries = await deliveries(client)
    assert {e["tenant_id"] for e in receiver.events("/alpha")} == {str(a)}
    assert {e["tenant_id"] for e in receiver.events("/beta")} == {str(b)}
    assert [e["data"]["order_id"] for e in receiver.events("/beta")] == ["b-1"]
    assert len(receiver.events("/alpha")) == 2
    assert len(a_deliveries) == 2


async def test_test_send(client, tenant, platform, receiver):
    endpoint = await create_endpoint(client, receiver.url + "/hook")
    path = f"/api/v1/webhooks/endpoints/{endpoint['id']}/test"
    ok = await client.post(path)
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["succeeded"] is True
    assert body["delivery"]["event_type"] == "webhooks.endpoint.test"
    assert body["delivery"]["attempts"][0]["status_code"] == 200
    [request] = receiver.requests
    assert WebhookReceiver.verify(endpoint["secret"], request)["type"] == "webhooks.endpoint.test"

    receiver.fail_next(1, status=502)
    failed = (await client.post(path)).json()
    assert failed["succeeded"] is False
    assert failed["delivery"]["status"] == "dead"  # a test is never retried
    assert failed["delivery"]["last_status_code"] == 502
    await settle(platform)
    assert len(receiver.requests) == 2
    got = (await client.get(f"/api/v1/webhooks/endpoints/{endpoint['id']}")).json()
    assert got["consecutive_failures"] == 0  # tests judge nothing
    listed = await deliveries(client, event_type="webhooks.endpoint.test")
    assert len(listed) == 2


async def test_one_failing_endpoint_opens_only_its_own_circuit(
    kraliki_make_app, kraliki_authenticate, webhook_settings, receiver
):
    from kernel.testing import app_client

    webhook_settings(retry_schedule="0,0,0,0,0,0")
    app = await kraliki_make_app(background_workers=False, breaker_failure_threshold=2)
    platform = app.state.platform
    tenant = await make_tenant(platform, "acme")
    kraliki_authenticate(app, *ALL, kind="user", tenant_id=tenant)
    async with app_client(app) as client:
        bad = await create_endpoint(client, receiver.url + "/bad")
        await create_endpoint(client, receiver.url + "/good")
        receiver.always(Reply(status=500), path="/bad")
        await publish(platform, tenant, OrderPlaced(order_id="o-1"))
        await settle(platform)
        await publish(platform, tenant, OrderPlaced(order_id="o-2"))
        await settle(platform)
        detail = [
            (await client.get(f"/api/v1/webhooks/deliveries/{d['id']}")).json()
            for d in await deliveries(client, endpoint_id=bad["id"])
        ]
    assert len(receiver.to("/bad")) == 2  # then the circuit opened: no more calls
    by_order = {d["envelope"]["data"]["order_id"]: d for d in detail}
    # Held back by the open breaker: not attempts, so no step of the schedule is used up.
    assert [a["status_code"] for a in by_order["o-1"]["attempts"]] == [500, 500]
    assert by_order["o-1"]["status"] == "failed"
    assert by_order["o-2"]["attempts"] == []
    assert by_order["o-2"]["status"] == "pending"
    for delivery in detail:
        assert "circuit breaker is open" in delivery["last_error"]
    assert [e["data"]["order_id"] for e in receiver.events("/good")] == ["o-1", "o-2"]


async def test_a_receiver_back_after_its_breaker_opened_still_gets_the_delivery(
    kraliki_make_app, kraliki_authenticate, webhook_settings, receiver
):
    from kernel.testing import app_client

    webhook_settings(retry_schedule="0,0")  # three attempts in all
    app = await kraliki_make_app(
        background_workers=False, breaker_failure_threshold=2, breaker_reset_seconds=2.0
    )
    platform = app.state.platform
    tenant = await make_tenant(platform, "acme")
    kraliki_authenticate(app, *ALL, kind="user", tenant_id=tenant)
    async with app_client(app) as client:
        await create_endpoint(client, receiver.url + "/hook")
        receiver.fail_next(2, status=503)  # opens the breaker; the receiver is back after
        await publish(platform, tenant, OrderPlaced(order_id="o-1"))
        await settle(platform)
        [held] = await deliveries(client)
        assert held["status"] == "failed"
        assert held["attempt_count"] == 2
        # The third try comes while the breaker is open: held, not spent and dead-lettered.
        await settle(platform, lambda: len(receiver.processed) == 1)
        [delivery] = await deliveries(client)
        detail = (await client.get(f"/api/v1/webhooks/deliveries/{delivery['id']}")).json()
    assert detail["status"] == "succeeded"
    assert [a["status_code"] for a in detail["attempts"]] == [503, 503, 200]


async def test_secrets_appear_nowhere_but_in_two_answers(
    client, tenant, platform, receiver, caplog
):
    caplog.set_level("DEBUG")
    endpoint = await create_endpoint(client, receiver.url + "/hook")
    path = f"/api/v1/webhooks/endpoints/{endpoint['id']}"
    rotated = (await client.post(f"{path}/rotate-secret")).json()["secret"]
    secrets = [endpoint["secret"], rotated]
    raw = [s.removeprefix("whsec_") for s in secrets]
    receiver.fail_next(1)
    await publish(platform, tenant, OrderPlaced(order_id="o-1"))
    await settle(platform, lambda: len(receiver.processed) == 1)
    await client.post(f"{path}/test")
    answers = [
        (await client.get("/api/v1/webhooks/endpoints")).text,
        (await client.get(path)).text,
        (await client.get("/api/v1/webhooks/deliveries")).text,
        (await client.patch(path, json={"description": "x"})).text,
    ]
    for item in (await client.get("/api/v1/webhooks/deliveries")).json()["items"]:
        answers.append((await client.get(f"/api/v1/webhooks/deliveries/{item['id']}")).text)
    stored = []
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            for model in (WebhookDelivery, WebhookAttempt):
                for row in await session.scalars(select(model)):
                    stored.append(
                        json.dumps(
                            {c.key: str(getattr(row, c.key)) for c in model.__mapper__.column_attrs}
                        )
                    )
    sent = [r.body.decode() + json.dumps(r.headers) for r in receiver.requests]
    for text in [*answers, *stored, *sent, caplog.text]:
        for value in [*secrets, *raw]:
            assert value not in text
    assert stored
    assert caplog.text


async def test_delivered_by_the_background_workers(
    kraliki_make_app, kraliki_authenticate, receiver
):
    """No test driving: the dispatcher hands the event over, the job worker sends it."""
    from kernel.testing import app_client

    app = await kraliki_make_app()
    platform = app.state.platform
    tenant = await make_tenant(platform, "live")
    kraliki_authenticate(app, *ALL, kind="user", tenant_id=tenant)
    async with app_client(app) as client:
        await create_endpoint(client, receiver.url + "/hook")
    receiver.fail_next(1)
    await publish(platform, tenant, OrderPlaced(order_id="o-1"), OrderPaid(order_id="o-1"))
    await receiver.wait_processed(2, seconds=20)
    assert [e["type"] for e in receiver.events()] == ["shop.order.placed", "shop.order.paid"]
    assert uuid.UUID(receiver.processed[0].webhook_id)
