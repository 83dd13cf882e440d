"""The Twilio double speaks Twilio's wire format (so that tests against it mean something)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI, Request
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
