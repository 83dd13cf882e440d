"""A call's life over REST and provider webhooks: placing, the status machine, timeline and
events; duplicates and out-of-order reports never move a call backwards."""

from __future__ import annotations

import uuid

from kernel import tenant_scope
from plugins.calls.testing import call_events, fakeline_log


async def _events(platform, tenant_id, call_id) -> list[str]:
    return [name for name, _ in await call_events(platform, tenant_id, call_id)]


async def test_place_call_hands_it_to_the_provider(place, platform, tenant):
    call = await place(tags=["vip"], metadata={"order": "A-1"})
    assert call["status"] == "initiated"
    assert call["direction"] == "outbound"
    assert call["from"] == "+14155550199"
    assert call["to"] == "+14155550100"
    assert call["provider"] == "fakeline"
    assert call["provider_call_id"].startswith("TL")
    assert call["tags"] == ["vip"]
    assert call["metadata"] == {"order": "A-1"}
    [placed] = fakeline_log(platform).placed
    assert str(placed.call_id) == call["id"]
    assert placed.to_number == "+14155550100"
    assert await _events(platform, tenant, call["id"]) == [
        "calls.call.created",
        "calls.call.initiated",
    ]


async def test_webhooks_walk_the_status_machine(place, send, client, platform, tenant):
    call = await place()
    sid = call["provider_call_id"]
    for status in ("ringing", "in-progress", "completed"):
        response = await send([{"type": "progress", "call": sid, "status": status}])
        assert response.status_code == 200, response.text
    detail = (await client.get(f"/api/v1/calls/{call['id']}")).json()
    assert detail["status"] == "completed"
    assert detail["ringing_at"]
    assert detail["answered_at"]
    assert detail["ended_at"]
    assert detail["duration_seconds"] is not None
    statuses = [e["status"] for e in detail["timeline"] if e["kind"] == "status"]
    assert statuses == ["initiated", "ringing", "in-progress", "completed"]
    assert await _events(platform, tenant, call["id"]) == [
        "calls.call.created",
        "calls.call.initiated",
        "calls.call.ringing",
        "calls.call.answered",
        "calls.call.completed",
    ]


async def test_duplicates_and_late_reports_never_move_a_call_backwards(place, send, client):
    call = await place()
    sid = call["provider_call_id"]
    answered = [{"type": "progress", "call": sid, "status": "in-progress"}]
    assert (await send(answered, delivery_id="d-1")).status_code == 200
    assert (await send(answered, delivery_id="d-1")).status_code == 200  # redelivery
    assert (await send(answered, delivery_id="d-2")).status_code == 200  # same status again
    late = [{"type": "progress", "call": sid, "status": "ringing"}]
    assert (await send(late)).status_code == 200
    await send([{"type": "progress", "call": sid, "status": "completed"}])
    await send([{"type": "progress", "call": sid, "status": "failed"}])
    detail = (await client.get(f"/api/v1/calls/{call['id']}")).json()
    assert detail["status"] == "completed"
    assert detail["ringing_at"] is not None  # the late report still told when it rang
    ignored = [e["detail"]["reason"] for e in detail["timeline"] if e["kind"] == "ignored"]
    assert ignored == ["duplicate", "out-of-order", "after-end"]
    answered_entries = [e for e in detail["timeline"] if e["status"] == "in-progress"]
    assert len(answered_entries) == 2  # d-1 once (its redelivery left no trace), d-2 ignored


async def test_first_webhook_can_beat_the_provider_answer(send, client, platform, tenant):
    """The webhook URL carries the call id, so a callback naming a provider id the platform
    has not stored yet (its REST answer is still on the way) finds its call and binds it."""
    from plugins.calls.models import Call

    with tenant_scope(tenant):
        async with platform.database.session() as session:
            call = Call(
                direction="outbound",
                from_number="+14155550199",
                to_number="+14155550100",
                provider="fakeline",
                status="queued",
                tags=[],
                attributes={},
                instructions=[],
                notes="",
            )
            session.add(call)
            await session.commit()
    early = [{"type": "progress", "call": "TL-early", "status": "ringing"}]
    assert (await send(early, call_id=call.id)).status_code == 200
    detail = (await client.get(f"/api/v1/calls/{call.id}")).json()
    assert detail["status"] == "ringing"
    assert detail["provider_call_id"] == "TL-early"
    # Another provider id on the same call URL is not taken for this call.
    other = [{"type": "progress", "call": "TL-other", "status": "in-progress"}]
    assert (await send(other, call_id=call.id)).status_code == 200
    assert (await client.get(f"/api/v1/calls/{call.id}")).json()["status"] == "ringing"


async def test_forged_unsigned_stale_and_cross_tenant_webhooks_change_nothing(
    place, send, client, platform
):
    from calls_helpers import provision

    other_tenant = await provision(platform, "globex", secret="globex-secret")
    call = await place()
    answered = [{"type": "progress", "call": call["provider_call_id"], "status": "in-progress"}]
    forged = await send(answered, signature="0" * 64)
    assert forged.status_code == 403
    assert forged.headers["content-type"].startswith("application/problem+json")
    assert forged.json()["type"].endswith("/calls-webhook-signature-invalid")
    assert (await send(answered, signature="")).status_code == 403
    # Signed with globex's secret but sent to acme's URL.
    assert (await send(answered, secret="globex-secret")).status_code == 403
    # Globex's own URL with its own signature: authentic, but the call is not globex's.
    response = await send(answered, secret="globex-secret", tenant_id=other_tenant)
    assert response.status_code == 200
    assert (await client.get(f"/api/v1/calls/{call['id']}")).json()["status"] == "initiated"


async def test_unknown_tenant_kind_or_malformed_body(client, tenant, send):
    from calls_helpers import SECRET

    from plugins.calls.testing import SIGNATURE_HEADER, sign

    assert (await send([], tenant_id=uuid.uuid4())).status_code == 404
    assert (await send([], kind="Bad Kind")).status_code == 404
    body = b"not json"
    response = await client.post(
        f"/webhooks/fakeline/{tenant}/status",
        content=body,
        headers={SIGNATURE_HEADER: sign(SECRET, body)},
    )
    assert response.status_code == 400
    assert response.json()["type"].endswith("/calls-webhook-malformed")


async def test_spans_carry_the_call_id(place, send, platform):
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    platform.tracing.add_exporter(exporter)
    call = await place()
    await send([{"type": "progress", "call": call["provider_call_id"], "status": "ringing"}])
    tagged = {
        span.attributes.get("http.route")
        for span in exporter.get_finished_spans()
        if span.attributes.get("call.id") == call["id"]
    }
    assert tagged >= {"/api/v1/calls", "/webhooks/fakeline/{tenant_id}/{kind}"}


async def test_oversized_webhooks_are_refused(client, tenant):
    response = await client.post(
        f"/webhooks/fakeline/{tenant}/status", content=b"x" * (256 * 1024 + 1)
    )
    assert response.status_code == 413
    assert response.json()["type"].endswith("/calls-webhook-too-large")
