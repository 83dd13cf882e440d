"""The stripe plugin as the payments plugin's processor: its key checked against the
stand-in through the vault's API, and the contract's other methods with the real SDK."""

from __future__ import annotations

from datetime import timedelta

import pytest
from payments_suite import (
    kraliki_extra_plugins,
    kraliki_installed_plugins,
    ok,
    organization,
    pay,
    payments,
    stand_in,
)

from kernel import tenant_scope, utcnow
from plugins.payments import ProcessorContext, ProcessorStatus
from plugins.stripe.processor import StripeProcessor

__all__ = ["kraliki_extra_plugins", "kraliki_installed_plugins", "payments", "stand_in"]

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


async def test_the_secret_key_is_checked_against_stripe(payments, kraliki_make_owner):
    acme = await organization(payments, kraliki_make_owner, "acme")
    checked = await ok(await acme.api.post("/vault/secrets/stripe.secret_key/validate"))
    assert checked["status"] == "valid", checked
    assert payments.stand_in.requests[-1].path == "/v1/account"
    assert acme.account.api_key not in str(checked)

    acme.account.revoked = True  # a rolled key: 401 from Stripe
    refused = await ok(await acme.api.post("/vault/secrets/stripe.secret_key/validate"))
    assert refused["status"] == "invalid"
    assert "401" in refused["detail"]

    wrong = await acme.api.put("/vault/secrets/stripe.secret_key", json={"value": "not-a-key"})
    assert wrong.status_code == 422


async def test_retrieve_and_list_for_reconciliation(payments, kraliki_make_owner):
    acme = await organization(payments, kraliki_make_owner, "acme")
    paid = await pay(acme.api, 1234)
    declined = await pay(acme.api, 99, payment_method="pm_card_chargeDeclined")
    platform = payments.app.state.platform
    processor = StripeProcessor(ProcessorContext(platform, acme.tenant_id, job="reconcile"))
    with tenant_scope(acme.tenant_id):
        found = await processor.retrieve_payment(paid["processor_payment_id"])
        listed = await processor.list_payments(
            start=utcnow() - timedelta(minutes=5), end=utcnow() + timedelta(minutes=1)
        )
    assert (found.status, found.amount, found.currency) == (ProcessorStatus.SUCCEEDED, 1234, "eur")
    assert found.metadata["kraliki_payment_id"] == paid["id"]
    assert {(p.id, p.status) for p in listed} == {
        (paid["processor_payment_id"], ProcessorStatus.SUCCEEDED),
        (declined["processor_payment_id"], ProcessorStatus.FAILED),
    }
