"""The IVR's ``payments.pay`` node on real calls: over Twilio (the double answering TwiML
and posting ``<Pay>``'s action as Twilio does) the caller's payment lands in the ledger and
a partial refund of it reconciles with the Stripe stand-in; failures and cancellations take
their exits; loopback's simulated connector takes named test cards; without secure capture
the node takes ``unavailable``. A canary card
number Twilio should never send is found nowhere: database, events, logs or responses."""

from __future__ import annotations

import asyncio
import json
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from payments_suite import (
    TELEPHONY_PLUGINS,
    charge_at_stripe,
    double,
    last_hour,
    ok,
    phone_app,
    phone_organization,
    rows_holding,
)

from kernel.testing import app_client, installed_plugin, outbox_events
from plugins.ivr import CallFacts, Go, NodeContext
from plugins.payments.ivr_node import PayConfig, PayNode
from plugins.stripe.testing import StripeStandIn
from plugins.twilio.testing import TwilioDouble

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

__all__ = ["double", "phone_app"]  # fixtures
NUMBER = "+14155550100"
CALLER = "+14155550199"
CANARY = "4000056655665556"
"""A Visa test number used as a canary: if it is kept anywhere, the platform leaked it."""

FLOW = {
    "start": "balance",
    "nodes": {
        "balance": {"type": "set", "values": {"balance": "2500"}, "exits": {"next": "pay"}},
        "pay": {
            "type": "payments.pay",
            "amount_variable": "balance",
            "currency": "usd",
            "description": "Balance of {{ call.caller }}",
            "say": "Please enter your card number.",
            "exits": {
                "succeeded": "thanks",
                "failed": "sorry",
                "cancelled": "later",
                "unavailable": "agent",
            },
        },
        "thanks": {"type": "hangup", "message": "Thank you, your payment went through."},
        "sorry": {"type": "hangup", "message": "Sorry, the payment did not go through."},
        "later": {"type": "hangup", "message": "No problem, call us back any time."},
        "agent": {"type": "hangup", "message": "Card payments are not available on this line."},
    },
}


@pytest.fixture
def kraliki_installed_plugins() -> list[object]:
    """Calls and the IVR on Twilio and loopback, payments through Stripe."""
    return [installed_plugin(name) for name in TELEPHONY_PLUGINS]


@pytest.fixture
def app(phone_app: FastAPI) -> FastAPI:
    return phone_app


@pytest.fixture
async def tenant(app, double, stand_in, kraliki_authenticate) -> uuid.UUID:
    return await phone_organization(app, double, stand_in, kraliki_authenticate, None)


@pytest.fixture
async def api(app: FastAPI, tenant: uuid.UUID) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(app) as client:
        settings = {"processor": "stripe", "default_currency": "usd"}
        await ok(await client.put("/api/v1/payments/settings", json=settings))
        yield client


async def publish(api: httpx.AsyncClient) -> str:
    """The flow, published and answering the number on Twilio."""
    created = await ok(
        await api.post("/api/v1/ivr/flows", json={"name": "Pay", "draft": FLOW}), 201
    )
    flow_id = str(created["id"])
    await ok(await api.post(f"/api/v1/ivr/flows/{flow_id}/publish", json={}), 201)
    number = {"number": NUMBER, "provider": "twilio", "route": "ivr", "ivr_flow_id": flow_id}
    await ok(await api.post("/api/v1/calls/numbers", json=number), 201)
    return flow_id


def said(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [(verb.text or "").strip() for verb in ET.fromstring(response.content).iter("Say")]


async def ring(app: FastAPI, double: TwilioDouble, tenant: uuid.UUID) -> tuple[Any, ET.Element]:
    """A caller rings the number; the flow reaches the pay node: its ``<Pay>``."""
    voice = f"{app.state.public_url}/webhooks/twilio/{tenant}/voice"
    call, first = await double.inbound_call(voice, from_=CALLER, to=NUMBER)
    assert first.status_code == 200, first.text
    return call, ET.fromstring(first.content)


async def charged_by_the_connector(stand_in: StripeStandIn, amount: int = 2500) -> Any:
    """What Twilio's Stripe connector does with the card: a PaymentIntent in the
    organization's own Stripe account (the connector is set up with its key)."""
    return await charge_at_stripe(stand_in, stand_in.account, amount, "usd")


async def payments_of(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    return list((await ok(await api.get("/api/v1/payments")))["items"])


async def test_a_caller_pays_and_a_partial_refund_reconciles(app, api, double, stand_in, tenant):
    await publish(api)
    call, twiml = await ring(app, double, tenant)
    assert [(v.text or "").strip() for v in twiml.iter("Say")] == ["Please enter your card number."]
    pay = twiml.find("Pay")
    assert pay is not None, ET.tostring(twiml)
    assert (pay.attrib["chargeAmount"], pay.attrib["currency"]) == ("25.00", "usd")
    assert pay.attrib["paymentConnector"] == "Default"
    assert pay.attrib["description"] == f"Balance of {CALLER}"
    assert pay.attrib["action"].startswith(f"{app.state.public_url}/webhooks/twilio/")

    charged = await charged_by_the_connector(stand_in)
    answer = await double.pay(call.sid, "success", confirmation=charged.id)
    assert said(answer) == ["Thank you, your payment went through."]

    [payment] = await payments_of(api)
    assert (payment["amount"], payment["currency"], payment["status"]) == (2500, "usd", "succeeded")
    assert (payment["capture_path"], payment["processor"]) == ("ivr", "stripe")
    assert payment["processor_payment_id"] == charged.id
    assert payment["call_id"] is not None
    assert payment["description"] == f"Balance of {CALLER}"
    detail = await ok(await api.get(f"/api/v1/payments/{payment['id']}"))
    assert [(e["kind"], e["source"]) for e in detail["ledger"]] == [
        ("payment_status", "provider"),
        ("payment_status", "provider"),
        ("payment_status", "provider"),
        ("charge", "provider"),
    ]

    refund = await ok(
        await api.post(f"/api/v1/payments/{payment['id']}/refunds", json={"amount": 1000}), 201
    )
    assert refund["status"] == "succeeded"
    await stand_in.drain()  # Stripe's notifications of the charge and the refund: applied

    asked = await ok(await api.post("/api/v1/payments/reconciliations", json=last_hour()), 202)
    platform = app.state.platform
    await platform.jobs.run_due(platform)
    run = await ok(await api.get(f"/api/v1/payments/reconciliations/{asked['id']}"))
    assert run["status"] == "completed", run
    assert (run["ledger_payments"], run["matched"], run["differences"]) == (1, 1, 0)
    names = [e.name for e in await outbox_events(platform, tenant)]
    assert names.count("payments.payment.succeeded") == 1


@pytest.mark.parametrize(
    ("result", "heard", "status"),
    [
        ("too-many-failed-attempts", "Sorry, the payment did not go through.", "failed"),
        ("payment-connector-error", "Sorry, the payment did not go through.", "failed"),
        ("caller-interrupted-with-star", "No problem, call us back any time.", "cancelled"),
    ],
)
async def test_a_payment_that_does_not_go_through_takes_its_exit(
    app, api, double, tenant, result, heard, status
):
    await publish(api)
    call, _ = await ring(app, double, tenant)
    answer = await double.pay(
        call.sid, result, error="card_declined" if "connector" in result else None
    )
    assert said(answer) == [heard]
    [payment] = await payments_of(api)
    assert (payment["status"], payment["capture_path"]) == (status, "ivr")
    if status == "failed":
        assert payment["failure_code"] == result
    assert payment["processor_payment_id"] is None


async def loopback_call(api: httpx.AsyncClient, flow_id: str, callee: list[Any]) -> str:
    """A loopback call running the flow when answered, the callee acting as ``callee``;
    its id once it ended."""
    body = {"to": CALLER, "from": NUMBER, "flow_id": flow_id, "options": {"script": callee}}
    placed = await ok(await api.post("/api/v1/calls", json=body | {"provider": "loopback"}), 201)
    async with asyncio.timeout(10):
        while True:
            found = await ok(await api.get(f"/api/v1/calls/{placed['id']}"))
            if found["status"] in ("completed", "failed"):
                return str(placed["id"])
            await asyncio.sleep(0.02)


@pytest.mark.parametrize(
    ("card", "status", "exit_name"),
    [
        ("visa", "succeeded", "succeeded"),
        ("declined", "failed", "failed"),
        ("cancel", "cancelled", "cancelled"),
    ],
)
async def test_on_loopback_a_test_card_pays(app, api, tenant, card, status, exit_name):
    flow_id = await publish(api)
    call_id = await loopback_call(api, flow_id, ["answer", {"step": "pay", "card": card}])
    assert f"pay:{status}" in await ivr_path(api, call_id)
    [payment] = await payments_of(api)
    assert (payment["status"], payment["capture_path"], payment["call_id"]) == (
        status,
        "ivr",
        call_id,
    )
    if status == "succeeded":
        assert payment["processor_payment_id"].startswith("lbpay_")
    else:
        assert payment["processor_payment_id"] is None


async def test_a_callee_who_keys_no_card_times_out(app, api, tenant):
    flow_id = await publish(api)
    call_id = await loopback_call(api, flow_id, ["answer", {"step": "wait", "seconds": 200}])
    [payment] = await payments_of(api)
    assert (payment["status"], payment["failure_code"]) == ("failed", "input-timeout")
    assert payment["call_id"] == call_id


async def test_without_secure_capture_the_node_is_unavailable():
    """A provider without the capability (none of the bundled ones): the caller is asked
    nothing and the flow goes on through ``unavailable``."""
    node = PayNode()
    config = PayConfig.model_validate(FLOW["nodes"]["pay"])
    ctx = NodeContext(
        node_id="pay",
        call=CallFacts(caller=CALLER, called=NUMBER, provider="fax", capabilities=frozenset()),
        variables={"balance": "2500"},
        language="en-US",
        voice=None,
        now=datetime.now(UTC),
        attempt=0,
        simulated=False,
        lookup=None,  # type: ignore[arg-type]
    )
    result = await node.enter(ctx, config)
    assert isinstance(result, Go)
    assert (result.exit, result.detail["reason"]) == (
        "unavailable",
        "fax has no secure payment capture",
    )
    assert ctx.variables["payment_status"] == "unavailable"
    assert ctx.effects == []


async def test_a_canary_card_number_is_kept_nowhere(
    app, api, double, stand_in, tenant, caplog: pytest.LogCaptureFixture
):
    """Twilio masks the card number it posts; were it to send it whole (or the digits as
    an error message), the platform must keep, log, publish and answer none of it."""
    caplog.set_level("DEBUG")
    await publish(api)
    call, _ = await ring(app, double, tenant)
    charged = await charged_by_the_connector(stand_in)
    answers = [await double.pay(call.sid, "success", confirmation=charged.id, card_number=CANARY)]
    call2, _ = await ring(app, double, tenant)
    answers.append(
        await double.pay(call2.sid, "validation-error", card_number=CANARY, error="bad card")
    )
    payments = await payments_of(api)
    assert sorted(p["status"] for p in payments) == ["failed", "succeeded"]
    answers.append(await api.get("/api/v1/payments"))
    answers.append(await api.get("/api/v1/payments/export.csv"))
    for payment in payments:
        answers.append(await api.get(f"/api/v1/payments/{payment['id']}"))
    answers.append(await api.get(f"/api/v1/calls/{payments[0]['call_id']}"))

    for response in answers:
        assert CANARY not in response.text
    platform = app.state.platform
    for event in await outbox_events(platform, tenant):
        assert CANARY not in json.dumps(event.payload, default=str)
    assert CANARY not in caplog.text
    assert await rows_holding(app, tenant, CANARY) == []


async def ivr_path(api: httpx.AsyncClient, call_id: str) -> list[str]:
    """``node:exit`` of each step the flow took on the call, from its timeline."""
    call = await ok(await api.get(f"/api/v1/calls/{call_id}"))
    return [
        f"{entry['detail']['node']}:{entry['detail']['exit']}"
        for entry in call["timeline"]
        if entry["kind"] == "ivr.step" and entry["detail"].get("exit")
    ]


async def test_pay_progress_is_published_without_digits(app, api, double, tenant):
    """``<Pay>``'s status callback reports the caller keying: each report is a
    ``payments.capture.progress`` event (no capture id: no agent drives it), masked."""
    await publish(api)
    call, _ = await ring(app, double, tenant)
    for answer in await double.pay_progress(call.sid, CANARY):
        assert answer.status_code == 200, answer.text
    await double.pay_progress(call.sid, "1230", field="expiration-date", valid=False)
    progress = [
        event.payload
        for event in await outbox_events(app.state.platform, tenant)
        if event.name == "payments.capture.progress"
    ]
    assert len(progress) == len(CANARY) + 1 + 4 + 1  # a report per digit, then the field's
    assert {p["capture_id"] for p in progress} == {None}
    card = progress[len(CANARY)]["fields"]["payment-card-number"]
    assert (card["digits"], card["masked"], card["complete"]) == (16, "xxxxxxxxxxxx5556", True)
    expiry = progress[-1]["fields"]["expiration-date"]
    assert (expiry["complete"], expiry["error"]) == (False, "invalid-date")
    assert all(CANARY[:12] not in json.dumps(p) for p in progress)
    answer = await double.pay(call.sid, "success", confirmation="pi_after_progress")
    assert said(answer) == ["Thank you, your payment went through."]
