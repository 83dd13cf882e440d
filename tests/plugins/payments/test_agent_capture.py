"""Agent-assisted capture on a live Twilio call, through the API an agent page uses and the
Twilio double playing the carrier: the platform opens a session with Twilio's live-call
Payments API, asks for each field (``Capture``), the caller keys the digits (the double
posts masked progress to the status callback), the agent completes it (``Status=complete``)
and the connector's outcome lands in the ledger (capture path ``agent``). A partial refund
then reconciles with the Stripe stand-in. Retry, cancel, a connector failure, the 409s, and a
canary card number found nowhere."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
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
    problem,
    rows_holding,
)

from kernel.testing import app_client, installed_plugin, outbox_events
from plugins.calls import Capability
from plugins.calls.testing import fakeline_plugin, fakeline_webhook, store_secrets
from plugins.twilio.testing import TwilioDouble

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

__all__ = ["double", "phone_app"]  # fixtures
NUMBER = "+14155550100"
CALLER = "+14155550199"
CANARY = "4000056655665556"
FAKELINE_SECRET = "fakeline signing key 1234567890"
CARD = "payment-card-number"
EXPIRY = "expiration-date"
CVC = "security-code"
POSTAL = "postal-code"
FLOW = {
    "start": "talk",
    "nodes": {
        "talk": {
            "type": "gather",
            "prompt": "You are through to billing.",
            "timeout_seconds": 60,
            "exits": {"next": "bye", "no_input": "bye"},
        },
        "bye": {"type": "hangup", "message": "Goodbye."},
    },
}
"""The caller is on the line (the agent's conversation stands in for the gather)."""


@pytest.fixture
def kraliki_installed_plugins() -> list[object]:
    """Calls and the IVR on Twilio and loopback, payments through Stripe."""
    return [installed_plugin(name) for name in TELEPHONY_PLUGINS]


@pytest.fixture
def kraliki_extra_plugins() -> list[object]:
    """A provider with every capability but agent-assisted capture."""
    return [fakeline_plugin(capabilities=frozenset(Capability) - {Capability.AGENT_PAYMENTS})]


AGENT_ID = uuid.uuid4()


@pytest.fixture
def app(phone_app: FastAPI) -> FastAPI:
    return phone_app


@pytest.fixture
async def tenant(app, double, stand_in, kraliki_authenticate) -> uuid.UUID:
    return await phone_organization(app, double, stand_in, kraliki_authenticate, str(AGENT_ID))


@pytest.fixture
async def api(app: FastAPI, tenant: uuid.UUID) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(app) as client:
        settings = {"processor": "stripe", "default_currency": "usd"}
        await ok(await client.put("/api/v1/payments/settings", json=settings))
        created = await ok(
            await client.post("/api/v1/ivr/flows", json={"name": "Billing", "draft": FLOW}), 201
        )
        await ok(await client.post(f"/api/v1/ivr/flows/{created['id']}/publish", json={}), 201)
        number = {"number": NUMBER, "provider": "twilio", "route": "ivr"}
        await ok(
            await client.post(
                "/api/v1/calls/numbers", json=number | {"ivr_flow_id": created["id"]}
            ),
            201,
        )
        yield client


async def live_call(app: FastAPI, double: TwilioDouble, tenant: uuid.UUID, api) -> tuple[Any, str]:
    """A caller on the line (Twilio's call and the platform's id of it)."""
    voice = f"{app.state.public_url}/webhooks/twilio/{tenant}/voice"
    call, first = await double.inbound_call(voice, from_=CALLER, to=NUMBER)
    assert first.status_code == 200, first.text
    listed = await ok(await api.get("/api/v1/calls", params={"limit": 1}))
    found = listed["items"][0]
    assert found["provider_call_id"] == call.sid
    assert found["status"] == "in-progress"
    return call, str(found["id"])


async def start(api, call_id: str, amount: int = 4200) -> dict[str, Any]:
    body = {"call_id": call_id, "amount": amount, "description": "Invoice 1042"}
    return await ok(await api.post("/api/v1/payments/captures", json=body), 201)


async def ask(api, capture: dict[str, Any], field: str) -> dict[str, Any]:
    path = f"/api/v1/payments/captures/{capture['id']}/fields"
    return await ok(await api.post(path, json={"field": field}))


async def key_all(api, double: TwilioDouble, sid: str, capture: dict[str, Any]) -> dict[str, Any]:
    for field, digits in (
        (CARD, "4242424242424242"),
        (EXPIRY, "1230"),
        (CVC, "123"),
        (POSTAL, "94107"),
    ):
        await ask(api, capture, field)
        for answer in await double.key_payment(sid, digits):
            assert answer.status_code == 200, answer.text
    return await ok(await api.get(f"/api/v1/payments/captures/{capture['id']}"))


async def test_an_agent_takes_a_payment_and_a_partial_refund_reconciles(
    app, api, double, stand_in, tenant
):
    call, call_id = await live_call(app, double, tenant, api)
    capture = await start(api, call_id)
    assert (capture["status"], capture["agent_id"]) == ("capturing", str(AGENT_ID))
    payment = capture["payment"]
    assert (payment["status"], payment["capture_path"], payment["amount"]) == (
        "pending",
        "agent",
        4200,
    )
    session = double.payment_session(call.sid)
    [created] = double.to("POST", f"/Calls/{call.sid}/Payments.json")
    assert created.form["IdempotencyKey"] == f"kraliki-capture-{capture['id']}-0"
    assert float(created.form["ChargeAmount"]) == 42.0
    assert created.form["Currency"] == "usd"
    assert created.form["StatusCallback"].startswith(
        f"{app.state.public_url}/webhooks/twilio/{tenant}/payment?call={call_id}"
    )

    # The card number, then an expiry the caller got wrong, asked again and keyed right.
    asked = await ask(api, capture, CARD)
    assert asked["field"] == CARD
    assert session.updates[-1]["Capture"] == CARD
    await double.key_payment(call.sid, "4242424242424242")
    now = await ok(await api.get(f"/api/v1/payments/captures/{capture['id']}"))
    assert now["fields"][CARD] == {
        "digits": 16,
        "masked": "xxxxxxxxxxxx4242",
        "complete": True,
        "error": None,
        "card_type": "visa",
        "attempts": 1,
    }
    assert now["required"] == [EXPIRY, CVC, POSTAL]
    await ask(api, capture, EXPIRY)
    await double.key_payment(call.sid, "1399", valid=False)
    wrong = await ok(await api.get(f"/api/v1/payments/captures/{capture['id']}"))
    assert wrong["fields"][EXPIRY]["error"] == "invalid-date"
    assert wrong["fields"][EXPIRY]["complete"] is False
    again = await ask(api, capture, EXPIRY)
    assert again["fields"][EXPIRY]["attempts"] == 2
    await double.key_payment(call.sid, "1230")
    for field, digits in ((CVC, "123"), (POSTAL, "94107")):
        await ask(api, capture, field)
        await double.key_payment(call.sid, digits)
    keyed = await ok(await api.get(f"/api/v1/payments/captures/{capture['id']}"))
    assert keyed["required"] == []
    assert keyed["fields"][EXPIRY] == {
        "digits": 4,
        "masked": "xxxx",
        "complete": True,
        "error": None,
        "attempts": 2,
    }

    completed = await ok(await api.post(f"/api/v1/payments/captures/{capture['id']}/complete"))
    assert (completed["status"], completed["payment"]["status"]) == ("completing", "processing")
    assert session.updates[-1]["Status"] == "complete"
    charged = await charge_at_stripe(stand_in, stand_in.account, 4200, "usd")
    answer = await double.payment_result(call.sid, "success", confirmation=charged.id)
    assert answer.status_code == 200, answer.text

    done = await ok(await api.get(f"/api/v1/payments/captures/{capture['id']}"))
    assert (done["status"], done["result"]) == ("succeeded", "success")
    payment = done["payment"]
    assert (payment["status"], payment["processor_payment_id"]) == ("succeeded", charged.id)
    assert (payment["call_id"], payment["agent_id"]) == (call_id, str(AGENT_ID))
    [listed] = (await ok(await api.get("/api/v1/payments", params={"call_id": call_id})))["items"]
    assert listed["id"] == payment["id"]

    refund = await ok(
        await api.post(f"/api/v1/payments/{payment['id']}/refunds", json={"amount": 1000}), 201
    )
    assert refund["status"] == "succeeded"
    await stand_in.drain()
    asked_run = await ok(await api.post("/api/v1/payments/reconciliations", json=last_hour()), 202)
    platform = app.state.platform
    await platform.jobs.run_due(platform)
    run = await ok(await api.get(f"/api/v1/payments/reconciliations/{asked_run['id']}"))
    assert run["status"] == "completed", run
    assert (run["ledger_payments"], run["matched"], run["differences"]) == (1, 1, 0)

    published = await outbox_events(platform, tenant)
    names = [e.name for e in published]
    for event in published:  # addressed to the agent: only they (and payments:all) hear it
        if event.name.startswith("payments.capture."):
            assert event.payload["agent_id"] == str(AGENT_ID)
    assert names.count("payments.capture.started") == 1
    assert names.count("payments.capture.ended") == 1
    assert names.count("payments.capture.progress") >= 16 + 4  # a report per digit
    timeline = (await ok(await api.get(f"/api/v1/calls/{call_id}")))["timeline"]
    kinds = [entry["kind"] for entry in timeline]
    assert "payment-capture" in kinds
    assert "payment-progress" in kinds


async def test_a_cancelled_capture_charges_nothing_and_another_may_start(app, api, double, tenant):
    call, call_id = await live_call(app, double, tenant, api)
    capture = await start(api, call_id)
    second = await api.post("/api/v1/payments/captures", json={"call_id": call_id, "amount": 100})
    assert problem(second, 409, "payments-capture-in-progress")["capture_id"] == capture["id"]
    early = await api.post(f"/api/v1/payments/captures/{capture['id']}/complete")
    assert problem(early, 409, "payments-capture-incomplete")["required"] == [CARD]

    cancelled = await ok(await api.post(f"/api/v1/payments/captures/{capture['id']}/cancel"))
    assert (cancelled["status"], cancelled["payment"]["status"]) == ("cancelled", "cancelled")
    assert double.payment_session(call.sid).status == "cancelled"
    late = await api.post(f"/api/v1/payments/captures/{capture['id']}/fields", json={"field": CARD})
    assert problem(late, 409, "payments-capture-not-open")["capture_status"] == "cancelled"
    assert (await start(api, call_id))["status"] == "capturing"


async def test_a_connector_failure_is_a_failed_payment(app, api, double, tenant):
    call, call_id = await live_call(app, double, tenant, api)
    capture = await start(api, call_id)
    await key_all(api, double, call.sid, capture)
    await ok(await api.post(f"/api/v1/payments/captures/{capture['id']}/complete"))
    await double.payment_result(call.sid, "payment-connector-error", error="card_declined")
    done = await ok(await api.get(f"/api/v1/payments/captures/{capture['id']}"))
    assert (done["status"], done["result"]) == ("failed", "payment-connector-error")
    payment = done["payment"]
    assert (payment["status"], payment["failure_code"], payment["failure_reason"]) == (
        "failed",
        "payment-connector-error",
        "card_declined",
    )


async def test_a_provider_without_agent_capture_answers_409(app, api, tenant):
    """Telnyx has no live-call payments API; the in-process fakeline stands in for it."""
    await store_secrets(app.state.platform, tenant, {"fakeline.signing_key": FAKELINE_SECRET})
    body = {"to": CALLER, "from": NUMBER, "provider": "fakeline"}
    placed = await ok(await api.post("/api/v1/calls", json=body), 201)
    answered = [{"type": "progress", "call": placed["provider_call_id"], "status": "in-progress"}]
    sent = await fakeline_webhook(api, tenant, FAKELINE_SECRET, answered)
    assert sent.status_code == 200, sent.text
    refused = await api.post(
        "/api/v1/payments/captures", json={"call_id": placed["id"], "amount": 500}
    )
    assert problem(refused, 409, "calls-capability-missing")["capability"] == "agent-payments"
    assert (await ok(await api.get("/api/v1/payments")))["items"] == []


async def test_another_agent_cannot_see_or_drive_the_capture(
    app, api, double, tenant, kraliki_authenticate
):
    call, call_id = await live_call(app, double, tenant, api)
    capture = await start(api, call_id)
    other = str(uuid.uuid4())  # an agent: no payments:all
    kraliki_authenticate(
        app, "payments:read", "payments:create", kind="user", tenant_id=tenant, subject=other
    )
    path = f"/api/v1/payments/captures/{capture['id']}"
    problem(await api.get(path), 404, "payments-capture-not-found")
    problem(await api.post(f"{path}/cancel"), 404, "payments-capture-not-found")
    assert double.payment_session(call.sid).status == "active"


async def test_a_canary_card_number_is_kept_nowhere(
    app, api, double, tenant, caplog: pytest.LogCaptureFixture
):
    """The caller keys a card number; Twilio reports it masked. The platform keeps, logs,
    publishes and answers at most its last four digits."""
    caplog.set_level("DEBUG")
    call, call_id = await live_call(app, double, tenant, api)
    capture = await start(api, call_id)
    await ask(api, capture, CARD)
    answers = list(await double.key_payment(call.sid, CANARY))
    answers.append(await api.get(f"/api/v1/payments/captures/{capture['id']}"))
    answers.append(await api.get(f"/api/v1/calls/{call_id}"))
    answers.append(await api.get("/api/v1/payments"))
    for response in answers:
        assert CANARY not in response.text
        assert CANARY[:12] not in response.text
    assert answers[-3].json()["fields"][CARD]["masked"] == "xxxxxxxxxxxx5556"
    for event in await outbox_events(app.state.platform, tenant):
        assert CANARY[:12] not in json.dumps(event.payload, default=str)
    assert CANARY[:12] not in caplog.text
    assert await rows_holding(app, tenant, CANARY[:12]) == []


async def test_a_failing_payments_hook_loses_the_report_not_the_webhook(
    app, api, double, tenant, monkeypatch
):
    """The plugin that keeps captures fails on a report: Twilio's callback is still
    answered, the call goes on, and nothing the plugin wrote for it stays."""
    call, call_id = await live_call(app, double, tenant, api)
    capture = await start(api, call_id)
    await ask(api, capture, CARD)

    async def broken(*_: object) -> None:
        raise RuntimeError("the payments plugin is broken")

    monkeypatch.setattr("plugins.payments.assisted.apply_progress", broken)
    for answer in await double.key_payment(call.sid, "4242424242424242"):
        assert answer.status_code == 200, answer.text
    monkeypatch.undo()
    now = await ok(await api.get(f"/api/v1/payments/captures/{capture['id']}"))
    assert now["fields"][CARD]["digits"] == 0
    found = await ok(await api.get(f"/api/v1/calls/{call_id}"))
    assert found["status"] == "in-progress"
    failures = [e for e in found["timeline"] if e["kind"] == "handler-failed"]
    assert failures
    assert failures[-1]["detail"]["turn"] == "payment"
    await double.key_payment(call.sid, "4242424242424242")  # the next report is taken
    again = await ok(await api.get(f"/api/v1/payments/captures/{capture['id']}"))
    assert again["fields"][CARD]["complete"] is True
