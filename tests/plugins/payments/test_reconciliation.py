"""Reconciliation of the ledger with the processor (the Stripe stand-in through the real
SDK): a partial refund reconciles; a payment made outside the platform, a refund made at
the processor and a payment whose notification was lost are reported (one event each), the
last brought forward; the period is checked; organizations see only their own runs."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from payments_suite import (
    Org,
    last_hour,
    ok,
    organization,
    pay,
    pay_at_the_processor,
    problem,
    reconcile,
    stripe_of,
)
from sqlalchemy import select

from kernel import tenant_scope, utcnow
from kernel.testing import job_due_at, outbox_events
from plugins.payments import Reconciliation
from plugins.payments import reconcile as reconciling

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


async def differences(org: Org, run: dict, **params: Any) -> list[dict]:
    page = await ok(
        await org.api.get(f"/payments/reconciliations/{run['id']}/differences", params=params)
    )
    return list(page["items"])


async def events_of(payments: Any, org: Org, run: dict) -> list[Any]:
    """The events of one run (the daily run of the day before may have run beside it)."""
    return [
        e
        for e in await outbox_events(payments.app.state.platform, org.tenant_id)
        if e.payload.get("reconciliation_id") == run["id"]
    ]


async def test_a_partial_refund_reconciles_with_the_processor(payments, kraliki_make_owner):
    acme = await organization(payments, kraliki_make_owner, "acme")
    paid = await pay(acme.api, 1000)
    await ok(await acme.api.post(f"/payments/{paid['id']}/refunds", json={"amount": 300}), 201)
    declined = await pay(acme.api, 700, payment_method="pm_card_chargeDeclined")
    assert declined["status"] == "failed"

    run = await reconcile(payments, acme)
    assert run["status"] == "completed", run
    assert (run["ledger_payments"], run["processor_payments"], run["matched"]) == (2, 2, 2)
    assert (run["differences"], run["corrected"], run["trigger"]) == (0, 0, "api")
    assert await differences(acme, run) == []
    events = await events_of(payments, acme, run)
    [completed] = [e for e in events if e.name == "payments.reconciliation.completed"]
    assert (completed.payload["status"], completed.payload["matched"]) == ("completed", 2)
    assert not [e for e in events if e.name == "payments.reconciliation.difference"]


async def test_every_difference_is_reported_and_a_lost_outcome_brought_forward(
    payments, kraliki_make_owner
):
    acme = await organization(payments, kraliki_make_owner, "acme")
    stand_in = payments.stand_in
    direct = stripe_of(payments, acme)

    # 1. A payment taken at the processor, not through the platform.
    outside = await pay_at_the_processor(payments, acme, 4200)
    # 2. A refund made at the processor for a payment of the ledger.
    refunded = await pay(acme.api, 2000)
    await direct.v1.refunds.create_async(
        {"payment_intent": refunded["processor_payment_id"], "amount": 500}
    )
    # 3. A payment the processor settled later, its notification lost.
    stand_in.settle_later()
    late = await pay(acme.api, 900)
    assert late["status"] == "processing"
    stand_in.hold_events()  # from now on nothing reaches the platform
    stand_in.settle(late["processor_payment_id"])
    # 4. One that agrees.
    await pay(acme.api, 100)

    run = await reconcile(payments, acme)
    assert run["status"] == "completed", run
    assert (run["ledger_payments"], run["processor_payments"]) == (3, 4)
    assert (run["matched"], run["differences"], run["corrected"]) == (1, 3, 1)
    found = {d["kind"]: d for d in await differences(acme, run)}
    assert set(found) == {"missing_in_ledger", "refunded", "status"}

    missing = found["missing_in_ledger"]
    assert (missing["processor_payment_id"], missing["payment_id"]) == (outside.id, None)
    assert (missing["processor_amount"], missing["processor_status"]) == (4200, "succeeded")

    refund = found["refunded"]
    assert refund["payment_id"] == refunded["id"]
    assert (refund["ledger_refunded"], refund["processor_refunded"]) == (0, 500)
    assert not refund["corrected"]

    status = found["status"]
    assert status["payment_id"] == late["id"]
    assert (status["ledger_status"], status["processor_status"]) == ("processing", "succeeded")
    assert status["corrected"]
    assert "brought forward" in status["note"]
    now = await ok(await acme.api.get(f"/payments/{late['id']}"))
    assert now["status"] == "succeeded"
    assert now["ledger"][-2]["source"] == "reconciliation"  # the status entry, then the charge

    assert [d["kind"] for d in await differences(acme, run, kind="status")] == ["status"]
    events = await events_of(payments, acme, run)
    published = {
        e.payload["kind"]: e.payload
        for e in events
        if e.name == "payments.reconciliation.difference"
    }
    assert set(published) == set(found)
    assert published["refunded"]["processor_refunded"] == 500

    # Run again: what was brought forward now agrees; the others are still there.
    again = await reconcile(payments, acme)
    assert (again["matched"], again["differences"], again["corrected"]) == (2, 2, 0)


async def test_the_period_is_checked_and_runs_are_the_organizations_own(
    payments, kraliki_make_owner
):
    acme = await organization(payments, kraliki_make_owner, "acme")
    now = datetime.now(UTC)
    for start, end in (
        (now, now - timedelta(hours=1)),  # backwards
        (now - timedelta(hours=1), now + timedelta(hours=1)),  # not over yet
        (now - timedelta(days=40), now),  # too long
    ):
        period = {"start": start.isoformat(), "end": end.isoformat()}
        answer = await acme.api.post("/payments/reconciliations", json=period)
        problem(answer, 422, "payments-reconciliation-period-invalid")
    naive = {"start": "2026-01-01T00:00:00", "end": "2026-01-02T00:00:00"}
    assert (await acme.api.post("/payments/reconciliations", json=naive)).status_code == 422
    problem(
        await acme.api.get(f"/payments/reconciliations/{uuid.uuid4()}"),
        404,
        "payments-reconciliation-not-found",
    )

    run = await reconcile(payments, acme)
    globex = await organization(payments, kraliki_make_owner, "globex")
    problem(
        await globex.api.get(f"/payments/reconciliations/{run['id']}"),
        404,
        "payments-reconciliation-not-found",
    )
    problem(
        await globex.api.get(f"/payments/reconciliations/{run['id']}/differences"),
        404,
        "payments-reconciliation-not-found",
    )
    theirs = (await ok(await globex.api.get("/payments/reconciliations")))["items"]
    assert run["id"] not in {r["id"] for r in theirs}
    listed = await ok(await acme.api.get("/payments/reconciliations"))
    assert run["id"] in {r["id"] for r in listed["items"]}

    agent = await payments.user(acme, "agent")
    answer = await agent.post("/payments/reconciliations", json=last_hour())
    assert answer.status_code == 403
    assert (await agent.get(f"/payments/reconciliations/{run['id']}")).status_code == 403
    integrator = await payments.user(acme, "integrator")  # reads every payment
    assert (await integrator.get(f"/payments/reconciliations/{run['id']}")).status_code == 200


async def test_a_processor_that_cannot_be_asked_fails_the_run(payments, kraliki_make_owner):
    acme = await organization(payments, kraliki_make_owner, "acme")
    await pay(acme.api, 100)
    payments.stand_in.fail_next(10, 500)
    run = await reconcile(payments, acme)
    assert run["status"] == "failed"
    assert "did not answer" in run["error"]
    assert run["finished_at"] is not None
    [completed] = [
        e
        for e in await events_of(payments, acme, run)
        if e.name == "payments.reconciliation.completed"
    ]
    assert completed.payload["status"] == "failed"


NOON = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


@pytest.mark.parametrize(
    ("now", "scheduled", "next_due"),
    [
        (NOON.replace(hour=0, minute=30), False, NOON.replace(hour=1)),
        (NOON.replace(hour=1), True, NOON.replace(hour=1) + timedelta(days=1)),
        (NOON, True, NOON.replace(hour=1) + timedelta(days=1)),
    ],
)
def test_the_day_before_is_due_from_one_in_the_morning(now, scheduled, next_due):
    midnight = NOON.replace(hour=0)
    day_before = (midnight - timedelta(days=1), midnight)
    assert reconciling.scheduled_period(now) == (day_before if scheduled else None)
    assert reconciling.next_schedule(now) == next_due


async def test_the_daily_run_reconciles_the_day_before(
    payments, kraliki_make_owner, monkeypatch: pytest.MonkeyPatch
):
    """At noon (UTC) the job has queued and done the day before's run, once."""
    monkeypatch.setattr(reconciling, "utcnow", lambda: NOON)
    acme = await organization(payments, kraliki_make_owner, "acme")
    platform = payments.app.state.platform
    now = NOON

    async def daily_runs() -> list[dict]:
        listed = (await ok(await acme.api.get("/payments/reconciliations")))["items"]
        return [r for r in listed if r["trigger"] == "schedule"]

    for _ in range(500):  # woken when the organization chose its processor
        await platform.jobs.run_due(platform)
        runs = await daily_runs()
        if runs and runs[0]["status"] == "completed":
            break
        await asyncio.sleep(0.02)
    [daily] = await daily_runs()
    assert daily["status"] == "completed"
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    start = datetime.fromisoformat(daily["period_start"])
    end = datetime.fromisoformat(daily["period_end"])
    assert (start, end) == (midnight - timedelta(days=1), midnight)
    tomorrow = midnight + timedelta(days=1, hours=1)
    for _ in range(500):  # once the worker that ran it let the job go
        if await job_due_at(platform, "payments.reconcile", acme.tenant_id) == tomorrow:
            break
        await asyncio.sleep(0.02)
    assert await job_due_at(platform, "payments.reconcile", acme.tenant_id) == tomorrow
    await platform.jobs.run_due(platform)
    assert len(await daily_runs()) == 1


async def test_a_refund_waiting_for_approval_can_be_turned_down(payments, kraliki_make_owner):
    acme = await organization(payments, kraliki_make_owner, "acme", threshold=500)
    paid = await pay(acme.api, 1000)
    supervisor = await payments.user(acme, "supervisor")
    waiting = await ok(
        await supervisor.post(f"/payments/{paid['id']}/refunds", json={"amount": 800}), 201
    )
    assert waiting["status"] == "pending_approval"
    base = f"/payments/{paid['id']}/refunds/{waiting['id']}"
    assert (await supervisor.post(f"{base}/reject", json={})).status_code == 403

    admin = await payments.user(acme, "admin")
    rejected = await ok(await admin.post(f"{base}/reject", json={"reason": "not our policy"}))
    assert (rejected["status"], rejected["failure_reason"]) == ("rejected", "not our policy")
    found = await ok(await acme.api.get(f"/payments/{paid['id']}"))
    assert (found["status"], found["refundable_amount"]) == ("succeeded", 1000)
    assert payments.stand_in.refunds(acme.account) == []
    problem(await admin.post(f"{base}/reject"), 409, "payments-refund-not-awaiting-approval")
    problem(await admin.post(f"{base}/approve"), 409, "payments-refund-not-awaiting-approval")
    names = [e.name for e in await outbox_events(payments.app.state.platform, acme.tenant_id)]
    assert "payments.refund.rejected" in names


async def test_reject_answers_404_for_another_organizations_refund(payments, kraliki_make_owner):
    acme = await organization(payments, kraliki_make_owner, "acme", threshold=100)
    paid = await pay(acme.api, 1000)
    waiting = await ok(await acme.api.post(f"/payments/{paid['id']}/refunds", json={}), 201)
    globex = await organization(payments, kraliki_make_owner, "globex")
    answer = await globex.api.post(f"/payments/{paid['id']}/refunds/{waiting['id']}/reject")
    problem(answer, 404, "payments-not-found")


async def test_a_run_cut_short_by_a_crash_runs_again(payments, kraliki_make_owner):
    acme = await organization(payments, kraliki_make_owner, "acme")
    await pay(acme.api, 100)
    run = await reconcile(payments, acme)
    platform = payments.app.state.platform
    with tenant_scope(acme.tenant_id):
        async with platform.database.session() as session:
            found = await session.scalar(
                select(Reconciliation).where(Reconciliation.id == uuid.UUID(run["id"]))
            )
            assert found is not None
            found.status, found.started_at = "running", utcnow() - timedelta(hours=2)
            found.finished_at = None
            await platform.jobs.wake(session, "payments.reconcile")
            await session.commit()
    for _ in range(500):
        await platform.jobs.run_due(platform)
        again = await ok(await acme.api.get(f"/payments/reconciliations/{run['id']}"))
        if again["status"] == "completed" and again["finished_at"]:
            break
        await asyncio.sleep(0.02)
    assert (again["status"], again["matched"]) == ("completed", 1)
