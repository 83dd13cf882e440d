"""processRefund: partial then the rest, never more than what is left, idempotent, the
second-person approval above the threshold, and two refunds racing (PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from payments_suite import ok, organization, pay, problem

from kernel.testing import outbox_events

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


async def test_a_partial_refund_then_the_rest(payments, kraliki_make_owner):
    acme = await organization(payments, kraliki_make_owner, "acme")
    paid = await pay(acme.api, 1000)
    partial = await ok(
        await acme.api.post(
            f"/payments/{paid['id']}/refunds", json={"amount": 300, "reason": "one item back"}
        ),
        201,
    )
    assert (partial["status"], partial["amount"]) == ("succeeded", 300)
    assert partial["processor_refund_id"].startswith("re_")
    found = await ok(await acme.api.get(f"/payments/{paid['id']}"))
    assert (found["status"], found["refunded_amount"], found["refundable_amount"]) == (
        "partially_refunded",
        300,
        700,
    )

    rest = await ok(await acme.api.post(f"/payments/{paid['id']}/refunds", json={}), 201)
    assert (rest["status"], rest["amount"]) == ("succeeded", 700)
    found = await ok(await acme.api.get(f"/payments/{paid['id']}"))
    assert (found["status"], found["refunded_amount"], found["refundable_amount"]) == (
        "refunded",
        1000,
        0,
    )
    assert [r["amount"] for r in found["refunds"]] == [300, 700]
    money = [e["amount"] for e in found["ledger"] if e["kind"] in ("charge", "refund")]
    assert money == [1000, -300, -700]
    assert sum(money) == 0

    # The stand-in agrees: the charge is fully refunded there too.
    refunds = payments.stand_in.refunds(acme.account)
    assert sorted(r["amount"] for r in refunds) == [300, 700]
    assert {r["metadata"]["kraliki_refund_id"] for r in refunds} == {partial["id"], rest["id"]}
    names = [e.name for e in await outbox_events(payments.app.state.platform, acme.tenant_id)]
    assert names.count("payments.refund.succeeded") == 2
    assert names.count("payments.payment.refunded") == 2


async def test_a_refund_larger_than_what_is_left_is_refused(payments, kraliki_make_owner):
    acme = await organization(payments, kraliki_make_owner, "acme")
    paid = await pay(acme.api, 500)
    await ok(await acme.api.post(f"/payments/{paid['id']}/refunds", json={"amount": 400}), 201)
    refused = problem(
        await acme.api.post(f"/payments/{paid['id']}/refunds", json={"amount": 101}),
        422,
        "payments-refund-exceeds-remainder",
    )
    assert refused["remaining"] == 100
    assert len(payments.stand_in.refunds(acme.account)) == 1
    found = await ok(await acme.api.get(f"/payments/{paid['id']}"))
    assert (found["refunded_amount"], found["refundable_amount"]) == (400, 100)


async def test_a_refund_is_idempotent(payments, kraliki_make_owner):
    acme = await organization(payments, kraliki_make_owner, "acme")
    paid = await pay(acme.api, 500)
    headers = {"Idempotency-Key": "refund-once"}
    first = await ok(
        await acme.api.post(
            f"/payments/{paid['id']}/refunds", json={"amount": 200}, headers=headers
        ),
        201,
    )
    again = await acme.api.post(
        f"/payments/{paid['id']}/refunds", json={"amount": 200}, headers=headers
    )
    assert again.json()["id"] == first["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert len(payments.stand_in.refunds(acme.account)) == 1


async def test_a_refund_above_the_threshold_waits_for_another_persons_approval(
    payments, kraliki_make_owner
):
    acme = await organization(payments, kraliki_make_owner, "acme", threshold=1000)
    paid = await pay(acme.api, 6000)
    supervisor = await payments.user(acme, "supervisor")
    small = await ok(
        await supervisor.post(f"/payments/{paid['id']}/refunds", json={"amount": 1000}), 201
    )
    assert small["status"] == "succeeded"  # at the threshold: no approval needed

    waiting = await ok(
        await supervisor.post(f"/payments/{paid['id']}/refunds", json={"amount": 3000}), 201
    )
    assert waiting["status"] == "pending_approval"
    assert len(payments.stand_in.refunds(acme.account)) == 1
    # Reserved meanwhile: only 2000 is left to ask for.
    found = await ok(await acme.api.get(f"/payments/{paid['id']}"))
    assert found["refundable_amount"] == 2000
    problem(
        await supervisor.post(f"/payments/{paid['id']}/refunds", json={"amount": 2001}),
        422,
        "payments-refund-exceeds-remainder",
    )
    approve = f"/payments/{paid['id']}/refunds/{waiting['id']}/approve"
    assert (await supervisor.post(approve)).status_code == 403  # no payments:approve

    admin = await payments.user(acme, "admin")
    own = await ok(await admin.post(f"/payments/{paid['id']}/refunds", json={}), 201)
    assert (own["status"], own["amount"]) == ("pending_approval", 2000)
    problem(
        await admin.post(f"/payments/{paid['id']}/refunds/{own['id']}/approve"),
        403,
        "payments-refund-self-approval",
    )
    approved = await ok(await admin.post(approve))
    assert approved["status"] == "succeeded"
    assert approved["approved_by"] == "admin-1@acme.example.com"
    problem(await admin.post(approve), 409, "payments-refund-not-awaiting-approval")
    problem(
        await admin.post(f"/payments/{paid['id']}/refunds/{uuid.uuid4()}/approve"),
        404,
        "payments-refund-not-found",
    )
    approved_own = await ok(
        await acme.api.post(f"/payments/{paid['id']}/refunds/{own['id']}/approve")
    )
    assert approved_own["status"] == "succeeded"
    found = await ok(await acme.api.get(f"/payments/{paid['id']}"))
    assert (found["status"], found["refunded_amount"]) == ("refunded", 6000)
    approvals = [e for e in found["ledger"] if e["source"] == "approval"]
    assert [e["to_status"] for e in approvals] == ["pending", "pending"]


@pytest.mark.postgres_only
async def test_two_refunds_racing_for_the_remainder_only_one_succeeds(payments, kraliki_make_owner):
    acme = await organization(payments, kraliki_make_owner, "acme")
    paid = await pay(acme.api, 1000)
    payments.stand_in.latency = 0.3  # both are in flight together
    first, second = await asyncio.gather(
        acme.api.post(f"/payments/{paid['id']}/refunds", json={"amount": 800}),
        acme.api.post(f"/payments/{paid['id']}/refunds", json={"amount": 800}),
    )
    payments.stand_in.latency = 0
    assert sorted([first.status_code, second.status_code]) == [201, 422], (
        first.text,
        second.text,
    )
    loser = first if first.status_code == 422 else second
    assert loser.json()["type"] == "/problems/payments-refund-exceeds-remainder"
    assert len(payments.stand_in.refunds(acme.account)) == 1
    found = await ok(await acme.api.get(f"/payments/{paid['id']}"))
    assert (found["refunded_amount"], found["refundable_amount"]) == (800, 200)
