"""Nothing a provider sends is lost: webhooks about calls not known yet are kept and applied
later; a failure to run instructions is retried by the provider's redelivery."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from kernel import TransientError, tenant_scope
from plugins.calls import service
from plugins.calls.ingest import reprocess
from plugins.calls.models import Call, WebhookReceipt
from plugins.calls.testing import fakeline_log


async def _receipts(platform, tenant) -> list[WebhookReceipt]:
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            return list(await session.scalars(select(WebhookReceipt)))


async def test_a_report_about_an_unknown_call_is_kept_and_applied_later(
    send, client, platform, tenant
):
    early = [{"type": "progress", "call": "TL-later", "status": "ringing"}]
    assert (await send(early, delivery_id="early-1")).status_code == 200
    [receipt] = await _receipts(platform, tenant)
    assert receipt.outcome == "orphan"
    assert receipt.payload["events"] == early  # kept as received (nothing secret in it)
    # The call becomes known (say, created by another path with that provider id).
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            session.add(
                Call(
                    direction="outbound",
                    from_number="+14155550199",
                    to_number="+14155550100",
                    provider="fakeline",
                    provider_call_id="TL-later",
                    status="initiated",
                    tags=[],
                    attributes={},
                    instructions=[],
                    notes="",
                )
            )
            await session.commit()
        assert await reprocess(platform) == (1, 0)
        assert await reprocess(platform) == (0, 0)
    [call] = (await client.get("/api/v1/calls")).json()["items"]
    assert call["status"] == "ringing"
    [receipt] = await _receipts(platform, tenant)
    assert receipt.outcome == "processed"


async def test_failed_instructions_run_again_on_redelivery(place, send, platform, tenant):
    call = await place(instructions=[{"kind": "say", "text": "Hi"}])
    answered = [{"type": "needs", "call": call["provider_call_id"], "reason": "answered"}]
    fakeline_log(platform).fail_next.append(TransientError("fakeline", status=503))
    first = await send(answered, kind="voice", delivery_id="v-9")
    assert first.status_code == 502  # the provider will deliver it again
    [receipt] = [r for r in await _receipts(platform, tenant) if r.dedupe_key == "v-9"]
    assert receipt.outcome == "failed"
    again = await send(answered, kind="voice", delivery_id="v-9")
    assert again.status_code == 200
    assert [s["text"] for s in json.loads(again.content)["steps"]] == ["Hi"]
    [receipt] = [r for r in await _receipts(platform, tenant) if r.dedupe_key == "v-9"]
    assert receipt.outcome == "processed"
    third = await send(answered, kind="voice", delivery_id="v-9")
    assert third.content == again.content
    assert len(fakeline_log(platform).executed) == 1


async def test_refused_instructions_are_noted_not_redelivered_forever(
    place, send, client, platform
):
    from plugins.calls.provider import ProviderRefused

    call = await place(instructions=[{"kind": "pay", "amount": "10.00", "currency": "eur"}])
    answered = [{"type": "needs", "call": call["provider_call_id"], "reason": "answered"}]
    fakeline_log(platform).fail_next.append(ProviderRefused("only usd payments"))
    response = await send(answered, kind="voice")
    assert response.status_code == 200  # retrying would not help
    timeline = (await client.get(f"/api/v1/calls/{call['id']}")).json()["timeline"]
    [refused] = [e for e in timeline if e["kind"] == "instructions-refused"]
    assert refused["detail"]["reason"] == "only usd payments"
    # Not silence: the caller hears that the line cannot take the call, and is hung up.
    said, hangup = json.loads(response.content)["steps"]
    assert said["text"].startswith("This line cannot take your call right now.")
    assert hangup == {"kind": "hangup"}


async def test_a_refused_apology_leaves_the_answer_empty(place, send, platform):
    from plugins.calls.provider import ProviderRefused

    call = await place(instructions=[{"kind": "say", "text": "Hi"}])
    answered = [{"type": "needs", "call": call["provider_call_id"], "reason": "answered"}]
    log = fakeline_log(platform)
    log.fail_next.extend([ProviderRefused("no"), ProviderRefused("still no")])
    response = await send(answered, kind="voice")
    assert (response.status_code, response.content) == (200, b"")
    assert log.executed == []


def test_instructions_carried_by_a_provider_survive_the_receipt():
    from plugins.calls.normalized import dump_events, load_events
    from plugins.calls.provider import InstructionsNeeded, Say

    need = InstructionsNeeded(
        provider_call_id="v3:abc", reason="continue", instructions=(Say(text="Hi"),)
    )
    [loaded] = load_events(dump_events([need]))
    assert loaded.instructions == (
        {"kind": "say", "text": "Hi", "voice": None, "language": "en-US"},
    )


def test_a_dial_outcome_survives_the_receipt():
    from plugins.calls.normalized import dump_events, load_events
    from plugins.calls.provider import CallStatus, InstructionsNeeded

    need = InstructionsNeeded("CA1", "dialed", dial_status=CallStatus.NO_ANSWER)
    [dumped] = dump_events([need])
    assert dumped["dial_status"] == "no-answer"
    assert load_events([dumped]) == [need]


def test_a_payment_outcome_survives_the_receipt_without_its_token():
    from plugins.calls.normalized import dump_events, load_events
    from plugins.calls.provider import InstructionsNeeded, PaymentCapture

    capture = PaymentCapture("succeeded", "success", confirmation="pi_1", token="pm_secret")
    need = InstructionsNeeded("CA1", "gathered", payment=capture)
    [dumped] = dump_events([need])
    assert "pm_secret" not in str(dumped)  # a token can pay again: never kept
    [loaded] = load_events([dumped])
    assert loaded.payment == PaymentCapture("succeeded", "success", confirmation="pi_1")


async def test_a_webhook_is_kept_only_with_its_effects(place, send, client, platform, tenant):
    """The receipt commits with what the webhook changed: when applying it fails, nothing
    is kept, and the provider's redelivery is applied instead of being taken for a
    duplicate."""
    call = await place()
    ringing = [{"type": "progress", "call": call["provider_call_id"], "status": "ringing"}]
    apply_progress = service.apply_progress
    failures = [RuntimeError("the database went away mid-way")]

    async def failing_once(*args, **kwargs):
        if failures:
            raise failures.pop()
        return await apply_progress(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(service, "apply_progress", failing_once)
        assert (await send(ringing, delivery_id="r-1")).status_code == 500
        assert [r for r in await _receipts(platform, tenant) if r.dedupe_key == "r-1"] == []
        assert (await send(ringing, delivery_id="r-1")).status_code == 200
    [receipt] = [r for r in await _receipts(platform, tenant) if r.dedupe_key == "r-1"]
    assert receipt.outcome == "processed"
    assert (await client.get(f"/api/v1/calls/{call['id']}")).json()["status"] == "ringing"
