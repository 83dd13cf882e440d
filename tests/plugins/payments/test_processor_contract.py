"""The processor contract through its hook: a processor another plugin contributes is used
without touching payments or stripe, and two plugins claiming one name stop the platform."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pytest

from kernel import Classification, PluginConflictError
from kernel.testing import installed_plugin
from plugins.payments import (
    ChargeRequest,
    PaymentProcessor,
    ProcessorContext,
    ProcessorPayment,
    ProcessorRefund,
    ProcessorRefundStatus,
    ProcessorSpec,
    ProcessorStatus,
    RefundRequest,
)


class Ledgerless:
    """A processor that takes every token but ``tok_decline``, in memory."""

    name = "ledgerless"
    charges: dict[str, ChargeRequest] = {}  # noqa: RUF012 (shared by the test's instances)

    def __init__(self, context: ProcessorContext) -> None:
        self.context = context

    async def create_payment(self, request: ChargeRequest) -> ProcessorPayment:
        self.charges[request.idempotency_key] = request
        declined = request.payment_method == "tok_decline"
        return ProcessorPayment(
            id=f"ll_{request.payment_id}",
            status=ProcessorStatus.FAILED if declined else ProcessorStatus.SUCCEEDED,
            amount=request.amount,
            currency=request.currency,
            failure_code="declined" if declined else None,
            failure_reason="no" if declined else None,
        )

    async def refund(self, request: RefundRequest) -> ProcessorRefund:
        return ProcessorRefund(
            id=f"llr_{request.refund_id}",
            status=ProcessorRefundStatus.SUCCEEDED,
            amount=request.amount,
            currency=request.currency,
            payment_id=request.processor_payment_id,
        )

    async def retrieve_payment(self, processor_payment_id: str) -> ProcessorPayment:
        raise NotImplementedError

    async def list_payments(self, *, start: datetime, end: datetime) -> Sequence[ProcessorPayment]:
        return []

    def classify(self, exc: Exception) -> Classification | None:
        return None


def processor_plugin(make_plugin, name: str = "ledgerless"):
    return make_plugin(
        name,
        requires=("payments",),
        payment_processors=lambda: [
            ProcessorSpec(name="ledgerless", factory=Ledgerless, description="In memory.")
        ],
    )


@pytest.fixture
def kraliki_installed_plugins():
    return [installed_plugin("payments")]


@pytest.fixture
def kraliki_extra_plugins(make_plugin):
    return [processor_plugin(make_plugin)]


def test_the_example_follows_the_protocol():
    assert isinstance(Ledgerless(None), PaymentProcessor)  # type: ignore[arg-type]


async def test_a_contributed_processor_takes_payments(kraliki_make_owner, kraliki_client):
    owner = await kraliki_make_owner("acme")
    api = kraliki_client
    api.headers.update(owner.headers)
    chosen = await api.put("/api/v1/payments/settings", json={"processor": "ledgerless"})
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["available_processors"] == ["ledgerless"]
    body = {"amount": 500, "currency": "czk", "payment_method": "tok_ok"}
    paid = await api.post("/api/v1/payments", json=body)
    assert paid.status_code == 201, paid.text
    assert (paid.json()["status"], paid.json()["processor"]) == ("succeeded", "ledgerless")
    key = f"kraliki-payment-{paid.json()['id']}"
    assert Ledgerless.charges[key].metadata["kraliki_tenant_id"] == str(owner.tenant_id)
    refunded = await api.post(f"/api/v1/payments/{paid.json()['id']}/refunds", json={})
    assert refunded.json()["status"] == "succeeded"
    declined = await api.post("/api/v1/payments", json=body | {"payment_method": "tok_decline"})
    assert (declined.json()["status"], declined.json()["failure_code"]) == ("failed", "declined")


async def test_two_processors_of_one_name_stop_the_platform(kraliki_make_app, make_plugin):
    with pytest.raises(PluginConflictError):
        await kraliki_make_app(
            plugins=[
                installed_plugin("payments"),
                processor_plugin(make_plugin),
                processor_plugin(make_plugin, "copycat"),
            ]
        )
