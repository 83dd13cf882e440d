"""The Twilio double speaks Twilio's wire format (so that tests against it mean something)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from twilio.request_validator import RequestValidator

from kernel.testing import serve_app
from plugins.twilio.testing import TwilioDouble


def calls_url(double: TwilioDouble) -> str:
    return f"{double.url}/2010-04-01/Accounts/{double.account_sid}/Calls.json"


def credentials(double: TwilioDouble) -> tuple[str, str]:
    return (double.account_sid, double.auth_token)


async def create(double: TwilioDouble, **form: str) -> httpx.Response:
    fields = {"To": "+420601123456", "From": "+14155550100", "Url": "https://x.example.com/v"}
    async with httpx.AsyncClient() as client:
        return await client.post(calls_url(double), data=fields | form, auth=credentials(double))


async def test_a_call_is_created_as_twilio_answers(double):
    response = await create(double)
    assert response.status_code == 201
    body = response.json()
    assert body["sid"].startswith("CA")
    assert len(body["sid"]) == 34
    assert (body["status"], body["direction"], body["api_version"]) == (
        "queued",
        "outbound-api",
        "2010-04-01",
    )
    assert body["uri"] == f"/2010-04-01/Accounts/{double.account_sid}/Calls/{body['sid']}.json"


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"To": "12345"}, 21211),
        ({"From": "nobody"}, 21212),
        ({"To": ""}, 21201),
        ({"Url": ""}, 21205),
    ],
)
async def test_twilio_errors(double, form, code):
    response = await create(double, **form)
    assert response.status_code == 400
    assert response.json() == {
        "code": code,
        "message": response.json()["message"],
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": 400,
    }


async def test_basic_auth_is_required(double):
    async with httpx.AsyncClient() as client:
        for auth in [None, (double.account_sid, "0" * 32), (double.add_account().sid, "x")]:
            response = await client.post(calls_url(double), data={}, auth=auth)
            assert response.status_code == 401
            assert response.json()["code"] == 20003


async def test_every_request_is_recorded(double):
    await create(double, StatusCallbackEvent="ringing")
    [request] = double.requests
    assert request.method == "POST"
    assert request.auth == credentials(double)
    assert request.form["To"] == "+420601123456"


async def test_failures_on_demand(double):
    double.fail_next(1, 429, retry_after="2")
    double.fail_next(1, 500, code=20500)
    throttled, failed, fine = [await create(double) for _ in range(3)]
    assert (throttled.status_code, throttled.headers["retry-after"]) == (429, "2")
    assert throttled.json()["code"] == 20429
    assert failed.status_code == 500
    assert fine.status_code == 201


async def test_a_hanging_request_is_released_when_the_double_stops():
    double = TwilioDouble()
    await double.start()
    double.hang_next()
    pending = asyncio.create_task(create(double))
    await asyncio.sleep(0.2)
    assert not pending.done()
    await double.stop()
    assert (await pending).status_code == 503


async def test_callbacks_are_signed_like_twilios(double):
    """A status callback to a receiver: signed over the URL and form with the auth token."""
    seen: list[tuple[str, dict[str, str], dict[str, str]]] = []
    receiver = FastAPI()

    @receiver.post("/status")
    async def status(request: Request) -> dict[str, bool]:
        form = {k: str(v) for k, v in (await request.form()).items()}
        seen.append((str(request.url), form, dict(request.headers)))
        return {"ok": True}

    async with serve_app(receiver) as base:
        sid = (await create(double, StatusCallback=f"{base}/status")).json()["sid"]
        assert await double.send_status(sid, "ringing") is None  # not asked for
        assert (await double.send_status(sid, "ringing", force=True)).status_code == 200
        assert (await double.send_status(sid, "completed", duration=61)).status_code == 200

    (url, ringing, headers), (_, completed, _) = seen
    validator = RequestValidator(double.auth_token)
    assert validator.validate(url, ringing, headers["x-twilio-signature"])
    assert headers["i-twilio-idempotency-token"]
    assert headers["user-agent"] == "TwilioProxy/1.1"
    assert (ringing["CallStatus"], ringing["SequenceNumber"]) == ("ringing", "0")
    assert (completed["SequenceNumber"], completed["CallDuration"], completed["Duration"]) == (
        "1",
        "61",
        "2",
    )


# --- agent-assisted payments (Calls/{sid}/Payments) and <Pay> progress --------------------

CARD = "4242424242424242"


class Webhooks:
    """A small app standing for the platform: it keeps every webhook the double posts and
    answers a voice request with ``twiml``."""

    def __init__(self) -> None:
        self.url = ""
        self.seen: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.twiml = "<Response><Pause length='60'/></Response>"
        self.app = FastAPI()
        self.app.post("/{kind}")(self.handle)

    async def handle(self, kind: str, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        self.seen.append((str(request.url), form, dict(request.headers)))
        if kind == "voice":
            return Response(self.twiml, media_type="application/xml")
        return Response(status_code=204)

    def forms(self, path: str) -> list[dict[str, str]]:
        return [form for url, form, _ in self.seen if url.endswith(path)]


@pytest.fixture
async def webhooks() -> AsyncIterator[Webhooks]:
    hooks = Webhooks()
    async with serve_app(hooks.app) as url:
        hooks.url = url
        yield hooks


async def live_call(double: TwilioDouble, webhooks: Webhooks) -> str:
    """A call the callee answered (in progress), whose voice URL is ``webhooks``."""
    sid: str = (await create(double, Url=f"{webhooks.url}/voice")).json()["sid"]
    await double.answer(sid)
    return sid


def payments_url(double: TwilioDouble, call_sid: str, payment_sid: str = "") -> str:
    tail = f"/{payment_sid}" if payment_sid else ""
    calls = f"{double.url}/2010-04-01/Accounts/{double.account_sid}/Calls"
    return f"{calls}/{call_sid}/Payments{tail}.json"


async def start_payment(
    double: TwilioDouble, call_sid: str, webhooks: Webhooks, **form: str
) -> httpx.Response:
    fields = {
        "IdempotencyKey": "create-1",
        "StatusCallback": f"{webhooks.url}/payment",
        "ChargeAmount": "12.50",
        "Currency": "usd",
        "PaymentConnector": "Stripe_Connector",
        "PaymentMethod": "credit-card",
    }
    async with httpx.AsyncClient() as client:
        return await client.post(
            payments_url(double, call_sid), data=fields | form, auth=credentials(double)
        )


async def update_payment(
    double: TwilioDouble, call_sid: str, payment_sid: str, webhooks: Webhooks, **form: str
) -> httpx.Response:
    fields = {"StatusCallback": f"{webhooks.url}/payment"} | form
    async with httpx.AsyncClient() as client:
        return await client.post(
            payments_url(double, call_sid, payment_sid), data=fields, auth=credentials(double)
        )


async def test_a_payment_session_is_opened_once_per_idempotency_key(double, webhooks):
    sid = await live_call(double, webhooks)
    first = await start_payment(double, sid, webhooks)
    again = await start_payment(double, sid, webhooks)
    assert (first.status_code, again.status_code) == (201, 201)
    body = first.json()
    assert again.json()["sid"] == body["sid"]
    assert body["sid"].startswith("PK")
    assert len(body["sid"]) == 34
    assert set(body) == {"account_sid", "call_sid", "sid", "date_created", "date_updated", "uri"}
    assert body["uri"] == (
        f"/2010-04-01/Accounts/{double.account_sid}/Calls/{sid}/Payments/{body['sid']}.json"
    )
    session = double.payment_session(sid)
    assert (session.sid, session.status, session.charge_amount) == (body["sid"], "active", "12.50")
    assert len(double.to("POST", "/Payments.json")) == 2  # recorded like any request
    assert len(double.state.payments) == 1


@pytest.mark.parametrize(
    ("form", "code"),
    [({"IdempotencyKey": ""}, 20001), ({"StatusCallback": ""}, 20001)],
)
async def test_a_payment_session_needs_its_required_parameters(double, webhooks, form, code):
    sid = await live_call(double, webhooks)
    response = await start_payment(double, sid, webhooks, **form)
    assert (response.status_code, response.json()["code"]) == (400, code)
    assert "Missing required parameter" in response.json()["message"]


async def test_a_payment_session_needs_a_live_call(double, webhooks):
    queued = (await create(double)).json()["sid"]
    response = await start_payment(double, queued, webhooks)
    assert (response.status_code, response.json()["code"]) == (400, 21220)
    unknown = await start_payment(double, "CA" + "0" * 32, webhooks)
    assert unknown.status_code == 404


async def test_one_payment_session_at_a_time_on_a_call(double, webhooks):
    sid = await live_call(double, webhooks)
    pk = (await start_payment(double, sid, webhooks)).json()["sid"]
    second = await start_payment(double, sid, webhooks, IdempotencyKey="create-2")
    assert (second.status_code, second.json()["code"]) == (400, 64008)
    await update_payment(double, sid, pk, webhooks, IdempotencyKey="u-1", Status="cancel")
    third = await start_payment(double, sid, webhooks, IdempotencyKey="create-3")
    assert third.status_code == 201
    assert third.json()["sid"] != pk


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"Capture": "pin"}, 64010),
        ({"Status": "done"}, 64011),
        ({}, 20001),
        ({"Capture": "payment-card-number", "Status": "complete"}, 20001),
        ({"Capture": "postal-code", "IdempotencyKey": ""}, 20001),
        ({"Capture": "postal-code", "StatusCallback": ""}, 20001),
    ],
)
async def test_refused_payment_updates(double, webhooks, form, code):
    sid = await live_call(double, webhooks)
    pk = (await start_payment(double, sid, webhooks)).json()["sid"]
    response = await update_payment(double, sid, pk, webhooks, **({"IdempotencyKey": "u"} | form))
    assert (response.status_code, response.json()["code"]) == (400, code)
    session = double.payment_session(sid)
    assert (session.status, session.capturing, session.updates) == ("active", None, [])


async def test_an_ended_payment_session_takes_no_update(double, webhooks):
    sid = await live_call(double, webhooks)
    pk = (await start_payment(double, sid, webhooks)).json()["sid"]
    cancel = await update_payment(double, sid, pk, webhooks, IdempotencyKey="u-1", Status="cancel")
    assert cancel.status_code == 200
    assert double.payment_session(sid).status == "cancelled"
    late = await update_payment(
        double, sid, pk, webhooks, IdempotencyKey="u-2", Capture="payment-card-number"
    )
    assert (late.status_code, late.json()["code"]) == (400, 64009)
    other = await update_payment(
        double, sid, "PK" + "0" * 32, webhooks, IdempotencyKey="u-3", Status="cancel"
    )
    assert other.status_code == 404


async def test_keyed_digits_reach_the_platform_masked_digit_by_digit(double, webhooks):
    sid = await live_call(double, webhooks)
    pk = (await start_payment(double, sid, webhooks, PostalCode="false")).json()["sid"]
    asked = await update_payment(
        double, sid, pk, webhooks, IdempotencyKey="u-1", Capture="payment-card-number"
    )
    assert (asked.status_code, asked.json()["sid"]) == (200, pk)
    responses = await double.key_payment(sid, CARD)
    assert [r.status_code for r in responses] == [204] * (len(CARD) + 1)

    *partials, final = webhooks.forms("/payment")
    assert len(partials) == len(CARD)
    for count, form in enumerate(partials, start=1):
        assert form["PartialResult"] == "true"
        assert form["PaymentCardNumber"] == "x" * count
        assert form["Required"] == "payment-card-number,expiration-date,security-code"
    assert final == final | {
        "AccountSid": double.account_sid,
        "CallSid": sid,
        "Sid": pk,
        "Capture": "payment-card-number",
        "PartialResult": "false",
        "Required": "expiration-date,security-code",
        "ErrorType": "",
        "PaymentCardNumber": "xxxxxxxxxxxx4242",
        "PaymentCardType": "visa",
        "PaymentMethod": "credit-card",
        "ChargeAmount": "12.50",
        "Currency": "usd",
        "PaymentConnector": "Stripe_Connector",
    }
    assert final["DateUpdated"].endswith("Z")
    for url, form, headers in webhooks.seen:  # signed; no more than the last four digits
        assert RequestValidator(double.auth_token).validate(
            url, form, headers["x-twilio-signature"]
        )
        assert CARD[:-4] not in "".join(form.values())
        assert sum(c.isdigit() for c in form.get("PaymentCardNumber", "")) <= 4


async def test_refused_digits_leave_the_field_required(double, webhooks):
    sid = await live_call(double, webhooks)
    pk = (await start_payment(double, sid, webhooks)).json()["sid"]
    await update_payment(double, sid, pk, webhooks, IdempotencyKey="u-1", Capture="expiration-date")
    await double.key_payment(sid, "1399", valid=False)
    final = webhooks.forms("/payment")[-1]
    assert (final["ErrorType"], final["ExpirationDate"]) == ("invalid-date", "xxxx")
    assert "expiration-date" in final["Required"].split(",")
    assert "expiration-date" not in double.payment_session(sid).keyed


async def test_a_repeated_update_is_not_applied_again(double, webhooks):
    sid = await live_call(double, webhooks)
    pk = (await start_payment(double, sid, webhooks)).json()["sid"]
    capture = {"IdempotencyKey": "u-1", "Capture": "payment-card-number"}
    await update_payment(double, sid, pk, webhooks, **capture)
    await double.key_payment(sid, CARD)
    repeated = await update_payment(double, sid, pk, webhooks, **capture)
    assert (repeated.status_code, repeated.json()["sid"]) == (200, pk)
    session = double.payment_session(sid)
    assert len(session.updates) == 1
    assert session.keyed == {"payment-card-number": CARD}  # a re-request would have cleared it
    await update_payment(double, sid, pk, webhooks, **(capture | {"IdempotencyKey": "u-2"}))
    assert session.keyed == {}


async def test_the_connector_result_follows_a_completed_session(double, webhooks):
    sid = await live_call(double, webhooks)
    pk = (await start_payment(double, sid, webhooks)).json()["sid"]
    for key, field, digits in [
        ("u-1", "payment-card-number", "5555555555554444"),
        ("u-2", "expiration-date", "1230"),
        ("u-3", "security-code", "123"),
        ("u-4", "postal-code", "94107"),
    ]:
        await update_payment(double, sid, pk, webhooks, IdempotencyKey=key, Capture=field)
        await double.key_payment(sid, digits)
    assert webhooks.forms("/payment")[-1]["Required"] == ""
    with pytest.raises(AssertionError):
        await double.payment_result(sid)  # not completed yet
    await update_payment(double, sid, pk, webhooks, IdempotencyKey="u-5", Status="complete")
    assert double.payment_session(sid).status == "complete-requested"
    response = await double.payment_result(sid, confirmation="ch_123", token="tok_9")
    assert response.status_code == 204
    result = webhooks.forms("/payment")[-1]
    assert result == result | {
        "Sid": pk,
        "Result": "success",
        "PaymentConfirmationCode": "ch_123",
        "PaymentToken": "tok_9",
        "PaymentCardNumber": "xxxxxxxxxxxx4444",
        "PaymentCardType": "mastercard",
        "ExpirationDate": "xxxx",
        "SecurityCode": "xxx",
        "ChargeAmount": "12.50",
    }
    assert "PaymentError" not in result
    session = double.payment_session(sid)
    assert (session.status, session.keyed) == ("completed", {})  # nothing kept past its use


async def test_pay_verb_progress_goes_to_its_status_callback(double, webhooks):
    webhooks.twiml = (
        f'<Response><Pay paymentConnector="Stripe_Connector" chargeAmount="9.99"'
        f' postalCode="false" action="{webhooks.url}/gather"'
        f' statusCallback="{webhooks.url}/pay-status"/></Response>'
    )
    sid = await live_call(double, webhooks)
    await double.pay_progress(sid, CARD[:15])
    await double.pay_progress(sid, "12", field="security-code", valid=False)
    card, codes = webhooks.forms("/pay-status")[:16], webhooks.forms("/pay-status")[16:]
    assert all(form["For"] == "payment-card-number" and "Sid" not in form for form in card)
    assert card[-1] == card[-1] | {
        "Attempt": "1",
        "PartialResult": "false",
        "PaymentCardNumber": "xxxxxxxxxxx2424",
        "Required": "expiration-date,security-code",
        "ChargeAmount": "9.99",
        "PaymentConnector": "Stripe_Connector",
    }
    assert codes[-1] == codes[-1] | {
        "For": "security-code",
        "SecurityCode": "xx",
        "ErrorType": "invalid-security-code",
        "Required": "security-code",
    }
