"""Taking payments and listing them through the API, with the stand-in as Stripe."""

from __future__ import annotations

import uuid

import pytest
from payments_suite import ok, organization, pay, problem

from kernel.testing import outbox_events

# The SDK's httpx client posts its form body as ``data=`` bytes, which httpx deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


async def test_a_payment_succeeds_and_is_in_the_ledger(payments, kraliki_make_owner):
    acme = await organization(payments, kraliki_make_owner, "acme")
    call_id = str(uuid.uuid4())
    paid = await pay(acme.api, 1550, call_id=call_id, description="Invoice 42")
    assert (paid["status"], paid["amount"], paid["currency"]) == ("succeeded", 1550, "eur")
    assert paid["processor"] == "stripe"
    assert paid["processor_payment_id"].startswith("pi_")
    assert paid["refundable_amount"] == 1550

    [intent] = payments.stand_in.payment_intents(acme.account)
    assert (intent["id"], intent["amount"], intent["status"]) == (
        paid["processor_payment_id"],
        1550,
        "succeeded",
    )
    assert intent["metadata"]["kraliki_payment_id"] == paid["id"]
    assert intent["metadata"]["kraliki_call_id"] == call_id
    sent = payments.stand_in.requests[-1]
    assert sent.idempotency_key == f"kraliki-payment-{paid['id']}"
    assert sent.params["confirm"] == "true"

    found = await ok(await acme.api.get(f"/payments/{paid['id']}"))
    assert [(e["kind"], e["to_status"], e["amount"]) for e in found["ledger"]] == [
        ("payment_status", "pending", 0),
        ("payment_status", "processing", 0),
        ("payment_status", "succeeded", 0),
        ("charge", None, 1550),
    ]
    names = [e.name for e in await outbox_events(payments.app.state.platform, acme.tenant_id)]
    assert names[:2] == ["payments.payment.created", "payments.payment.succeeded"]


async def test_a_declined_card_fails_with_the_reason(payments, kraliki_make_owner):
    acme = await organization(payments, kraliki_make_owner, "acme")
    failed = await pay(acme.api, payment_method="pm_card_chargeDeclined")
    assert failed["status"] == "failed"
    assert failed["failure_code"] == "generic_decline"
    assert "declined" in failed["failure_reason"]
    assert failed["refundable_amount"] == 0
    problem(
        await acme.api.post(f"/payments/{failed['id']}/refunds", json={}),
        409,
        "payments-not-refundable",
    )


async def test_the_same_idempotency_key_charges_once(payments, kraliki_make_owner):
    acme = await organization(payments, kraliki_make_owner, "acme")
    body = {"amount": 900, "currency": "EUR", "payment_method": "pm_card_visa"}
    headers = {"Idempotency-Key": "order-77"}
    first = await ok(await acme.api.post("/payments", json=body, headers=headers), 201)
    again = await acme.api.post("/payments", json=body, headers=headers)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first["id"]
    assert len(payments.stand_in.payment_intents(acme.account)) == 1
    listed = await ok(await acme.api.get("/payments"))
    assert [p["id"] for p in listed["items"]] == [first["id"]]


async def test_bad_input_is_refused(payments, kraliki_make_owner):
    acme = await organization(payments, kraliki_make_owner, "acme")
    base = {"amount": 100, "payment_method": "pm_card_visa"}
    problem(
        await acme.api.post("/payments", json=base | {"currency": "xyz"}),
        422,
        "payments-currency-invalid",
    )
    card_number = await acme.api.post(
        "/payments", json=base | {"payment_method": "4242 4242 4242 4242"}
    )
    assert card_number.status_code == 422  # a token, never a card number
    bare = await acme.api.post("/payments", json=base | {"payment_method": "4242424242424242"})
    assert bare.status_code == 422
    assert "4242424242424242" not in bare.text  # never echoed
    assert (await acme.api.post("/payments", json=base | {"amount": 0})).status_code == 422
    assert payments.stand_in.payment_intents(acme.account) == []


async def test_without_a_processor_nothing_is_charged(payments, kraliki_make_owner):
    owner = await kraliki_make_owner("bare")
    api = await payments.client(owner.headers)
    problem(
        await api.post("/payments", json={"amount": 100, "payment_method": "pm_card_visa"}),
        409,
        "payments-processor-not-configured",
    )
    problem(
        await api.put("/payments/settings", json={"processor": "paypal"}),
        422,
        "payments-processor-unknown",
    )
    settings = await ok(await api.get("/payments/settings"))
    assert settings["available_processors"] == ["stripe"]
    assert settings["processor"] is None


async def test_list_filter_paginate_and_export(payments, kraliki_make_owner):
    acme = await organization(payments, kraliki_make_owner, "acme")
    call_id, contact_id = str(uuid.uuid4()), str(uuid.uuid4())
    made = [
        await pay(acme.api, 100, call_id=call_id),
        await pay(acme.api, 200, contact_id=contact_id, description="=HYPERLINK(evil)"),
        await pay(acme.api, 300, payment_method="pm_card_chargeDeclined"),
    ]
    first = await ok(await acme.api.get("/payments", params={"limit": 2}))
    assert [p["amount"] for p in first["items"]] == [300, 200]  # newest first
    rest = await ok(
        await acme.api.get("/payments", params={"limit": 2, "cursor": first["next_cursor"]})
    )
    assert [p["amount"] for p in rest["items"]] == [100]
    assert rest["next_cursor"] is None

    async def amounts(**params):
        listed = await ok(await acme.api.get("/payments", params=params))
        return [p["amount"] for p in listed["items"]]

    assert await amounts(status="failed") == [300]
    assert await amounts(status=["succeeded", "failed"]) == [300, 200, 100]
    assert await amounts(call_id=call_id) == [100]
    assert await amounts(contact_id=contact_id) == [200]
    assert await amounts(since=made[2]["created_at"]) == [300]
    assert await amounts(until=made[1]["created_at"]) == [100]

    exported = await acme.api.get("/payments/export.csv", params={"status": "succeeded"})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    lines = exported.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("id,created_at,status,amount_minor,amount,currency")
    assert len(lines) == 3
    assert lines[1].startswith(f"{made[0]['id']},")
    assert ",100,1.00,eur," in lines[1]
    assert "'=HYPERLINK(evil)" in lines[2]  # never a formula in a spreadsheet
