"""A processor that does not answer: retried (same Stripe Idempotency-Key), then the
payment fails with the ledger consistent; one whose answer was only late is settled by its
webhook afterwards, never charged twice."""

from __future__ import annotations

import pytest
from payments_suite import ok, organization, pay

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


async def test_a_processor_error_is_retried_then_the_payment_fails(payments, kraliki_make_owner):
    acme = await organization(payments, kraliki_make_owner, "acme")
    before = len(payments.stand_in.requests)
    payments.stand_in.fail_next(2, 500)
    failed = await pay(acme.api, 700)
    assert (failed["status"], failed["failure_code"]) == ("failed", "processor_unavailable")
    tried = payments.stand_in.requests[before:]
    assert [r.path for r in tried] == ["/v1/payment_intents"] * 2
    assert {r.idempotency_key for r in tried} == {f"kraliki-payment-{failed['id']}"}
    assert payments.stand_in.payment_intents(acme.account) == []
    found = await ok(await acme.api.get(f"/payments/{failed['id']}"))
    assert [e["to_status"] for e in found["ledger"]] == ["pending", "processing", "failed"]
    assert all(e["amount"] == 0 for e in found["ledger"])  # no money moved

    payments.stand_in.fail_next(1, 429)  # throttled once: the retry succeeds
    paid = await pay(acme.api, 800)
    assert paid["status"] == "succeeded"
    assert len(payments.stand_in.payment_intents(acme.account)) == 1


async def test_a_timed_out_payment_that_went_through_is_settled_by_its_webhook(
    payments, kraliki_make_owner
):
    acme = await organization(payments, kraliki_make_owner, "acme")
    payments.stand_in.latency = 2.5  # beyond both 1 s attempts; it takes effect at once
    payments.stand_in.hold_events()  # its notifications come after the answer
    failed = await pay(acme.api, 900)
    payments.stand_in.latency = 0
    assert (failed["status"], failed["failure_code"]) == ("failed", "processor_unavailable")
    [intent] = payments.stand_in.payment_intents(acme.account)  # one, despite the retry
    assert intent["status"] == "succeeded"

    delivered = await payments.stand_in.release()
    assert all(d.ok for d in delivered), [(d.event["type"], d.status) for d in delivered]
    found = await ok(await acme.api.get(f"/payments/{failed['id']}"))
    assert found["status"] == "succeeded"
    assert found["processor_payment_id"] == intent["id"]
    assert found["failure_code"] is None
    assert [(e["to_status"], e["source"]) for e in found["ledger"] if e["to_status"]] == [
        ("pending", "api"),
        ("processing", "api"),
        ("failed", "processor"),
        ("succeeded", "webhook"),
    ]
    assert [e["amount"] for e in found["ledger"] if e["kind"] == "charge"] == [900]
