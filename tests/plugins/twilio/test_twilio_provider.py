"""The Twilio provider against the double: placing calls and what Twilio refuses."""

from __future__ import annotations

import logging
import uuid

import pytest
from twilio_helpers import ACME_NUMBER, CALLEE, provider_for, store_credentials

from kernel import CircuitOpenError, Platform, TransientError, tenant_scope
from kernel.testing import create_tenant
from plugins.calls import PlaceCall, PlacedCall, ProviderRefused


def place(**options: object) -> PlaceCall:
    defaults: dict[str, object] = {"from_number": ACME_NUMBER, "to_number": CALLEE}
    return PlaceCall(call_id=uuid.uuid4(), **(defaults | options))  # type: ignore[arg-type]


async def place_call(platform: Platform, tenant: uuid.UUID, **options: object) -> PlacedCall:
    with tenant_scope(tenant):
        return await provider_for(platform, tenant).place_call(place(**options))


async def test_place_call_sends_what_twilio_expects(platform, tenant, double, receiver):
    placed = await place_call(platform, tenant, timeout_seconds=25)

    call = double.last_call()
    assert placed == PlacedCall(provider_call_id=call.sid)
    [request] = double.to("POST", "/Calls.json")
    assert request.path == f"/2010-04-01/Accounts/{double.account_sid}/Calls.json"
    assert request.auth == (double.account_sid, double.auth_token)
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    base = f"{receiver.url}/webhooks/twilio/{tenant}"
    assert request.form == {
        "To": CALLEE,
        "From": ACME_NUMBER,
        "Url": f"{base}/voice",
        "Method": "POST",
        "StatusCallback": f"{base}/status",
        "StatusCallbackMethod": "POST",
        "StatusCallbackEvent": "completed",
        "Timeout": "25",
    }
    events = ["initiated", "ringing", "answered", "completed"]
    assert request.values("StatusCallbackEvent") == events


async def test_recording_and_machine_detection_when_asked(platform, tenant, double, receiver):
    await place_call(platform, tenant, record=True, machine_detection=True)

    [request] = double.to("POST", "/Calls.json")
    base = f"{receiver.url}/webhooks/twilio/{tenant}"
    assert request.form["MachineDetection"] == "Enable"
    assert request.form["Record"] == "true"
    assert request.form["RecordingChannels"] == "dual"
    assert request.form["RecordingStatusCallback"] == f"{base}/recording"
    assert request.values("RecordingStatusCallbackEvent") == ["in-progress", "completed", "absent"]
    assert double.last_call().record


async def test_an_invalid_number_is_refused_at_once(platform, tenant, double):
    with pytest.raises(ProviderRefused) as refused:
        await place_call(platform, tenant, to_number="+1")

    assert refused.value.code == "21211"
    assert "Invalid 'To' Phone Number" in refused.value.detail
    assert len(double.requests) == 1  # a refusal is not retried


async def test_wrong_credentials_are_a_refusal(platform, double):
    tenant = await create_tenant(platform, "wrong")
    await store_credentials(platform, tenant, double.account_sid, "0" * 32)

    with pytest.raises(ProviderRefused) as refused:
        await place_call(platform, tenant)

    assert refused.value.code == "20003"
    assert len(double.requests) == 1


async def test_no_credentials_no_request(platform, double):
    tenant = await create_tenant(platform, "new")

    with pytest.raises(ProviderRefused) as refused:
        await place_call(platform, tenant)

    assert refused.value.code == "not-configured"
    assert double.requests == []


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_twilio_trouble_is_retried(platform, tenant, double, status):
    double.fail_next(2, status)

    placed = await place_call(platform, tenant)

    assert placed.provider_call_id == double.last_call().sid
    assert len(double.to("POST", "/Calls.json")) == 3


async def test_retry_after_is_honoured(platform, tenant, double):
    double.fail_next(1, 429, retry_after="1")

    await place_call(platform, tenant)

    assert len(double.requests) == 2


async def test_lasting_trouble_is_a_transient_error(platform, tenant, double):
    double.fail_next(3, 503)

    with pytest.raises(TransientError) as failed:
        await place_call(platform, tenant)

    assert failed.value.dependency == "twilio"
    assert len(double.requests) == 3
    assert double.calls == {}


async def test_a_twilio_that_does_not_answer_times_out(make_platform, double):
    platform = await make_platform(twilio_timeout=0.3)
    tenant = await create_tenant(platform, "acme")
    await store_credentials(platform, tenant, double.account_sid, double.auth_token)
    double.hang_next(3)

    with pytest.raises(TransientError) as failed:
        await place_call(platform, tenant)

    assert failed.value.timed_out
    assert double.requests  # each attempt gave up waiting (a busy machine may not even send)


async def test_repeated_failures_open_the_tenants_breaker_only(platform, tenant, double):
    other = await create_tenant(platform, "other")
    account = double.add_account()
    await store_credentials(platform, other, account.sid, account.auth_token)
    double.fail_next(10, 503)

    with pytest.raises(TransientError):
        await place_call(platform, tenant)  # three failures
    with pytest.raises(CircuitOpenError):
        await place_call(platform, tenant)  # the fourth opens the circuit
    assert len(double.requests) == 4
    with pytest.raises(CircuitOpenError):
        await place_call(platform, tenant)  # fails fast
    assert len(double.requests) == 4

    double.state.faults.clear()
    assert await place_call(platform, other)  # another tenant's circuit is closed


async def test_refusals_do_not_open_the_breaker(platform, tenant, double):
    for _ in range(5):
        with pytest.raises(ProviderRefused):
            await place_call(platform, tenant, from_number="12")

    assert await place_call(platform, tenant)


async def test_credentials_are_never_logged(platform, tenant, double, caplog):
    caplog.set_level(logging.DEBUG)
    double.fail_next(1, 503)
    await place_call(platform, tenant)
    with pytest.raises(ProviderRefused):
        await place_call(platform, tenant, to_number="nope")

    assert double.auth_token not in caplog.text
