"""Placing calls: validation, limits (429), provider refusals (422) and outages (503), and
failover to the secondary provider when the primary's circuit is open."""

from __future__ import annotations

import json

import pytest
from calls_helpers import provision

from kernel import TransientError, tenant_scope
from plugins.calls.models import CallSettingsRow
from plugins.calls.provider import ProviderRefused
from plugins.calls.testing import fakeline_log, fakeline_plugin


async def _settings(platform, tenant, **values):
    from sqlalchemy import select

    with tenant_scope(tenant):
        async with platform.database.session() as session:
            row = await session.scalar(select(CallSettingsRow))
            for key, value in values.items():
                setattr(row, key, value)
            await session.commit()


async def test_numbers_must_be_e164(client, tenant):
    for body, field in (
        ({"to": "415", "from": "+14155550199"}, "to"),
        ({"to": "+14155550100", "from": "+1 555"}, "from"),
    ):
        response = await client.post("/api/v1/calls", json=body)
        assert response.status_code == 422
        assert response.json()["type"].endswith("/calls-invalid-number")
        assert response.json()["field"] == field
    no_caller_id = await client.post("/api/v1/calls", json={"to": "+14155550100"})
    assert no_caller_id.status_code == 422  # no number of the tenant to call from
    added = await client.post(
        "/api/v1/calls/numbers", json={"number": "+1 (415) 555-0177", "provider": "fakeline"}
    )
    assert added.status_code == 201
    assert added.json()["number"] == "+14155550177"
    placed = await client.post("/api/v1/calls", json={"to": "+14155550100"})
    assert placed.status_code == 201
    assert placed.json()["from"] == "+14155550177"


async def test_concurrency_limit(client, platform, tenant, place):
    await _settings(platform, tenant, max_concurrent_calls=2)
    await place()
    await place()
    refused = await client.post(
        "/api/v1/calls", json={"to": "+14155550100", "from": "+14155550199"}
    )
    assert refused.status_code == 429
    assert refused.json()["type"].endswith("/calls-concurrency-limit")
    assert refused.json()["limit"] == 2
    assert len(fakeline_log(platform).placed) == 2


async def test_calls_per_second_per_provider(client, platform, tenant, place):
    await _settings(platform, tenant, calls_per_second={"fakeline": 1})
    await place()
    refused = await client.post(
        "/api/v1/calls", json={"to": "+14155550100", "from": "+14155550199"}
    )
    assert refused.status_code == 429
    assert refused.json()["type"].endswith("/calls-rate-limited")
    assert refused.headers["retry-after"] == "1"


async def test_provider_refusal_fails_the_call_with_422(client, platform, tenant):
    fakeline_log(platform).fail_next.append(ProviderRefused("unverified caller id", code="21210"))
    response = await client.post(
        "/api/v1/calls", json={"to": "+14155550100", "from": "+14155550199"}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["type"].endswith("/calls-provider-refused")
    assert body["detail"] == "unverified caller id"
    assert body["provider_code"] == "21210"
    [call] = (await client.get("/api/v1/calls")).json()["items"]
    assert call["status"] == "failed"
    assert call["hangup_cause"] == "provider-refused"


async def test_provider_outage_fails_the_call_with_503(client, platform, tenant):
    fakeline_log(platform).fail_next.append(TransientError("fakeline", status=503))
    response = await client.post(
        "/api/v1/calls", json={"to": "+14155550100", "from": "+14155550199"}
    )
    assert response.status_code == 503
    assert response.json()["type"].endswith("/calls-provider-unavailable")
    [call] = (await client.get("/api/v1/calls")).json()["items"]
    assert call["status"] == "failed"
    assert call["hangup_cause"] == "provider-unavailable"


async def test_unconfigured_or_unknown_provider(client, platform, tenant):
    from kernel import tenant_scope as scope

    unknown = await client.post(
        "/api/v1/calls", json={"to": "+14155550100", "from": "+14155550199", "provider": "nope"}
    )
    assert unknown.status_code == 422
    assert "fakeline" in unknown.json()["providers"]
    with scope(tenant):
        async with platform.database.session() as session:
            await platform.vault.delete(session, "fakeline.signing_key")
            await session.commit()
    missing = await client.post(
        "/api/v1/calls", json={"to": "+14155550100", "from": "+14155550199"}
    )
    assert missing.status_code == 409
    assert missing.json()["missing"] == ["fakeline.signing_key"]


@pytest.fixture
def kraliki_extra_plugins():
    return [fakeline_plugin(), fakeline_plugin("backupline")]


async def test_failover_to_the_secondary_when_the_primary_circuit_is_open(client, platform, tenant):
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            await platform.vault.put(session, "backupline.signing_key", "backup", actor="test")
            await session.commit()
    await _settings(platform, tenant, secondary_provider="backupline")
    body = {"to": "+14155550100", "from": "+14155550199"}
    # Three outages open the primary's breaker (threshold 3 in these tests).
    for _ in range(3):
        fakeline_log(platform).fail_next.append(TransientError("fakeline", status=503))
        assert (await client.post("/api/v1/calls", json=body)).status_code == 503
    response = await client.post("/api/v1/calls", json=body)
    assert response.status_code == 201, response.text
    call = response.json()
    assert call["provider"] == "backupline"
    assert call["status"] == "initiated"
    assert len(fakeline_log(platform, "backupline").placed) == 1
    timeline = (await client.get(f"/api/v1/calls/{call['id']}")).json()["timeline"]
    [failover] = [e for e in timeline if e["kind"] == "failed-over"]
    assert failover["detail"] == {
        "from_provider": "fakeline",
        "to_provider": "backupline",
        "reason": "circuit-open",
    }
    # Forcing a provider never fails over.
    forced = await client.post("/api/v1/calls", json={**body, "provider": "fakeline"})
    assert forced.status_code == 503


async def test_answered_call_runs_its_instructions(client, place, send, platform):
    call = await place(instructions=[{"kind": "say", "text": "Hello"}, {"kind": "hangup"}])
    sid = call["provider_call_id"]
    response = await send(
        [{"type": "needs", "call": sid, "reason": "answered"}], kind="voice", delivery_id="v-1"
    )
    assert response.status_code == 200
    steps = json.loads(response.content)["steps"]
    assert [s["kind"] for s in steps] == ["say", "hangup"]
    assert steps[0]["text"] == "Hello"
    again = await send(
        [{"type": "needs", "call": sid, "reason": "answered"}], kind="voice", delivery_id="v-1"
    )
    assert again.content == response.content  # a redelivery gets the same answer
    assert len(fakeline_log(platform).executed) == 1  # ... without running them twice


async def test_recording_consent_is_said_first(client, place, send, platform, tenant):
    await _settings(platform, tenant, recording_consent_message="This call is recorded.")
    call = await place(record=True, instructions=[{"kind": "say", "text": "Hi"}])
    response = await send(
        [{"type": "needs", "call": call["provider_call_id"], "reason": "answered"}], kind="voice"
    )
    steps = json.loads(response.content)["steps"]
    assert [s["text"] for s in steps] == ["This call is recorded.", "Hi"]
    assert fakeline_log(platform).placed[-1].record is True


async def test_inbound_calls_follow_their_number(client, send, platform, tenant):
    await client.post(
        "/api/v1/calls/numbers",
        json={
            "number": "+14155550123",
            "provider": "fakeline",
            "route": "forward",
            "forward_to": "+14155550188",
        },
    )
    arrival = [
        {
            "type": "progress",
            "call": "TL-in-1",
            "status": "ringing",
            "direction": "inbound",
            "from": "+14155550111",
            "to": "+14155550123",
        },
        {
            "type": "needs",
            "call": "TL-in-1",
            "reason": "inbound",
            "direction": "inbound",
            "from": "+14155550111",
            "to": "+14155550123",
        },
    ]
    response = await send(arrival, kind="voice")
    assert response.status_code == 200
    [dial, hangup] = json.loads(response.content)["steps"]
    assert hangup == {"kind": "hangup"}
    assert dial == {
        "kind": "dial",
        "number": "+14155550188",
        "caller_id": "+14155550111",
        "timeout_seconds": 30,
        "report_outcome": False,  # a forward: the call is the target's now
    }
    unknown_number = [
        {
            "type": "needs",
            "call": "TL-in-2",
            "reason": "inbound",
            "direction": "inbound",
            "from": "+14155550111",
            "to": "+14155550999",
        },
    ]
    steps = json.loads((await send(unknown_number, kind="voice")).content)["steps"]
    assert [s["kind"] for s in steps] == ["say", "hangup"]
    calls = (await client.get("/api/v1/calls", params={"direction": "inbound"})).json()["items"]
    assert {c["provider_call_id"] for c in calls} == {"TL-in-1", "TL-in-2"}
    assert {c["status"] for c in calls} == {"ringing", "queued"}


async def test_another_tenant_can_use_the_same_provider_ids(client, send, platform, tenant):
    other = await provision(platform, "globex", secret="other")
    arrival = [
        {
            "type": "progress",
            "call": "TL-same",
            "status": "ringing",
            "direction": "inbound",
            "from": "+14155550111",
            "to": "+14155550123",
        }
    ]
    assert (await send(arrival)).status_code == 200
    assert (await send(arrival, tenant_id=other, secret="other")).status_code == 200
    assert len((await client.get("/api/v1/calls")).json()["items"]) == 1  # acme's own only


async def test_idempotent_placement(client, platform, tenant):
    body = {"to": "+14155550100", "from": "+14155550199"}
    headers = {"Idempotency-Key": "order-7-call"}
    first = await client.post("/api/v1/calls", json=body, headers=headers)
    assert first.status_code == 201
    assert first.headers["location"] == f"/api/v1/calls/{first.json()['id']}"
    again = await client.post("/api/v1/calls", json=body, headers=headers)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert len(fakeline_log(platform).placed) == 1  # one call placed, not two
    other = await client.post("/api/v1/calls", json={**body, "to": "+14155550142"}, headers=headers)
    assert other.status_code == 409
    assert other.json()["type"].endswith("/idempotency-key-reused")
    without = await client.post("/api/v1/calls", json=body)
    assert without.status_code == 201
    assert without.json()["id"] != first.json()["id"]


async def test_a_failed_placement_releases_its_key(client, platform, tenant):
    fakeline_log(platform).fail_next.append(TransientError("fakeline", status=503))
    body = {"to": "+14155550100", "from": "+14155550199"}
    headers = {"Idempotency-Key": "retry-me"}
    assert (await client.post("/api/v1/calls", json=body, headers=headers)).status_code == 503
    retried = await client.post("/api/v1/calls", json=body, headers=headers)
    assert retried.status_code == 201  # the outage was not remembered as the answer
