"""Stripe's webhooks reaching the platform (signed by the stand-in with each organization's
secret): verified by the SDK, de-duplicated on the event id, applied in any order without
moving a payment backwards; forgeries change nothing."""

from __future__ import annotations

import uuid

import httpx
import pytest
from payments_suite import (
    kraliki_extra_plugins,
    kraliki_installed_plugins,
    ok,
    organization,
    pay,
    payments,
    problem,
    stand_in,
)
from sqlalchemy import select

from kernel import tenant_scope
from plugins.payments import ProcessorEvent

__all__ = ["kraliki_extra_plugins", "kraliki_installed_plugins", "payments", "stand_in"]

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


async def received(payments, tenant_id) -> list[tuple[str, str]]:
    """The events the organization's ledger took, redacted: (type, outcome)."""
    with tenant_scope(tenant_id):
        async with payments.app.state.platform.database.session() as session:
            rows = (
                await session.scalars(select(ProcessorEvent).order_by(ProcessorEvent.received_at))
            ).all()
    return [(row.event_type, row.outcome) for row in rows]


async def processing(payments, org) -> dict:
    """A payment Stripe has not settled yet (``processing``), its events held back."""
    payments.stand_in.hold_events()
    payments.stand_in.settle_later()
    paid = await pay(org.api, 1200)
    assert paid["status"] == "processing"
    return paid


async def test_a_payment_is_settled_by_its_webhook_once(payments, kraliki_make_owner):
    acme = await organization(payments, kraliki_make_owner, "acme")
    paid = await processing(payments, acme)
    await payments.stand_in.release()
    payments.stand_in.settle(paid["processor_payment_id"], account=acme.account)
    await payments.stand_in.drain()
    found = await ok(await acme.api.get(f"/payments/{paid['id']}"))
    assert found["status"] == "succeeded"

    succeeded = next(e for e in acme.account.events if e["type"] == "payment_intent.succeeded")
    again = await payments.stand_in.resend(succeeded, account=acme.account)
    assert again.ok  # answered 2xx, as Stripe expects, and nothing changed
    after = await ok(await acme.api.get(f"/payments/{paid['id']}"))
    assert after["ledger"] == found["ledger"]
    assert [e["source"] for e in after["ledger"] if e["kind"] == "charge"] == ["webhook"]
    events = await received(payments, acme.tenant_id)
    assert events.count(("payment_intent.succeeded", "applied")) == 1


async def test_events_out_of_order_never_move_a_payment_backwards(payments, kraliki_make_owner):
    acme = await organization(payments, kraliki_make_owner, "acme")
    paid = await processing(payments, acme)  # created, processing: still held
    payments.stand_in.settle(paid["processor_payment_id"], account=acme.account)
    delivered = await payments.stand_in.release(reverse=True)  # succeeded first
    assert all(d.ok for d in delivered)
    found = await ok(await acme.api.get(f"/payments/{paid['id']}"))
    assert found["status"] == "succeeded"
    assert [e["to_status"] for e in found["ledger"] if e["to_status"]] == [
        "pending",
        "processing",
        "succeeded",
    ]
    events = dict(await received(payments, acme.tenant_id))
    assert events["payment_intent.succeeded"] == "applied"
    assert events["payment_intent.processing"] == "stale"


async def test_a_payment_failing_later_fails_with_the_reason(payments, kraliki_make_owner):
    acme = await organization(payments, kraliki_make_owner, "acme")
    paid = await processing(payments, acme)
    await payments.stand_in.release()
    payments.stand_in.settle(paid["processor_payment_id"], succeed=False, account=acme.account)
    await payments.stand_in.drain()
    found = await ok(await acme.api.get(f"/payments/{paid['id']}"))
    assert (found["status"], found["failure_code"]) == ("failed", "generic_decline")


async def test_a_refund_settled_later_by_its_webhook(payments, kraliki_make_owner):
    acme = await organization(payments, kraliki_make_owner, "acme")
    paid = await pay(acme.api, 1000, payment_method="pm_card_pendingRefund")
    refund = await ok(
        await acme.api.post(f"/payments/{paid['id']}/refunds", json={"amount": 400}), 201
    )
    assert refund["status"] == "pending"
    found = await ok(await acme.api.get(f"/payments/{paid['id']}"))
    assert (found["refunded_amount"], found["refundable_amount"]) == (0, 600)
    payments.stand_in.settle(refund["processor_refund_id"], account=acme.account)
    await payments.stand_in.drain()
    found = await ok(await acme.api.get(f"/payments/{paid['id']}"))
    assert found["refunds"][0]["status"] == "succeeded"
    assert (found["status"], found["refunded_amount"]) == ("partially_refunded", 400)


@pytest.mark.parametrize(
    ("how", "status", "slug"),
    [
        ("wrong_secret", 403, "stripe-webhook-signature-invalid"),
        ("tampered", 403, "stripe-webhook-signature-invalid"),
        ("stale", 403, "stripe-webhook-signature-invalid"),
        ("unsigned", 400, "stripe-webhook-malformed"),
    ],
)
async def test_a_forged_webhook_changes_nothing(payments, kraliki_make_owner, how, status, slug):
    acme = await organization(payments, kraliki_make_owner, "acme")
    paid = await processing(payments, acme)
    payments.stand_in.settle(paid["processor_payment_id"], account=acme.account)
    succeeded = next(e for e in acme.account.events if e["type"] == "payment_intent.succeeded")
    body, headers = payments.stand_in.forge(succeeded, how=how, account=acme.account)
    async with httpx.AsyncClient() as client:
        answer = await client.post(acme.account.webhook_url, content=body, headers=headers)
    problem(answer, status, slug)
    found = await ok(await acme.api.get(f"/payments/{paid['id']}"))
    assert found["status"] == "processing"
    assert await received(payments, acme.tenant_id) == []


async def test_another_organizations_event_is_refused(payments, kraliki_make_owner):
    acme = await organization(payments, kraliki_make_owner, "acme")
    globex = await organization(payments, kraliki_make_owner, "globex")
    paid = await processing(payments, globex)
    payments.stand_in.settle(paid["processor_payment_id"], account=globex.account)
    succeeded = next(e for e in globex.account.events if e["type"] == "payment_intent.succeeded")
    # Signed with globex's secret, sent to acme's endpoint.
    sent = await payments.stand_in.send(
        succeeded, account=globex.account, url=acme.account.webhook_url
    )
    assert sent.status == 403
    unknown = await payments.stand_in.send(
        succeeded,
        account=globex.account,
        url=f"{payments.url}/webhooks/stripe/{uuid.uuid4()}",
    )
    assert unknown.status == 404
    found = await ok(await globex.api.get(f"/payments/{paid['id']}"))
    assert found["status"] == "processing"
