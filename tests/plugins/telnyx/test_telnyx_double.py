"""The Telnyx double speaks Telnyx's wire format: checked against the real SDK (its webhook
verification helper, its client) so that tests against the double mean something."""

from __future__ import annotations

import base64
import time

import httpx
import pytest
from telnyx.lib.webhook_verification import WebhookVerificationError, verify_webhook_signature
from telnyx_helpers import CALLEE, CALLER

from plugins.telnyx.testing import TelnyxDouble
from plugins.webhooks.testing import WebhookReceiver


async def test_events_are_signed_as_the_sdk_verifies_them(telnyx):
    async with WebhookReceiver() as receiver:
        call = telnyx.outgoing_call(CALLER, CALLEE, webhook_url=f"{receiver.url}/hook")
        sent = await telnyx.send_event(call.call_control_id, "call.answered", event_id="ev-1")
        [request] = receiver.requests
    assert sent.status == 200
    assert request.json()["data"]["id"] == "ev-1"
    verify_webhook_signature(request.body, request.headers, telnyx.public_key)
    with pytest.raises(WebhookVerificationError):
        verify_webhook_signature(request.body + b" ", request.headers, telnyx.public_key)


async def test_resend_and_stale_and_raw_deliveries(telnyx):
    async with WebhookReceiver() as receiver:
        url = f"{receiver.url}/hook"
        call = telnyx.outgoing_call(CALLER, CALLEE, webhook_url=url)
        first = await telnyx.send_event(call.call_control_id, "call.hangup")
        again = await telnyx.resend(first)
        stale = await telnyx.send_event(
            call.call_control_id, "call.hangup", timestamp=int(time.time()) - 600
        )
        raw = await telnyx.send_raw(url, b"{}", timestamp="1", signature="forged")
    assert again.event_id == first.event_id
    assert again.body == first.body
    assert int(stale.timestamp) < time.time() - 599
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify_webhook_signature(stale.body, _headers(stale), telnyx.public_key)
    assert [r.headers["telnyx-signature-ed25519"] for r in receiver.requests][-1] == "forged"
    assert raw.event_id == ""
    assert len(telnyx.sent) == 4


def _headers(sent) -> dict[str, str]:
    return {"telnyx-timestamp": sent.timestamp, "telnyx-signature-ed25519": sent.signature}


async def test_the_double_answers_as_telnyx_does(telnyx):
    async with httpx.AsyncClient(base_url=telnyx.api_base_url) as http:
        unauthorized = await http.post("/calls", json={})
        auth = {"Authorization": f"Bearer {telnyx.api_key}"}
        invalid = await http.post("/calls", json={"connection_id": "nope"}, headers=auth)
        unknown = await http.post("/calls/v3:none/actions/hangup", json={}, headers=auth)
        dialled = await http.post(
            "/calls",
            json={"connection_id": telnyx.connection_id, "to": CALLEE, "from": CALLER},
            headers=auth,
        )
    assert unauthorized.status_code == 401
    assert unauthorized.json()["errors"][0]["code"] == "10009"
    assert invalid.status_code == 422
    assert invalid.json()["errors"][0]["code"] == "10015"
    assert unknown.status_code == 404
    data = dialled.json()["data"]
    assert set(data) == {
        "call_control_id",
        "call_leg_id",
        "call_session_id",
        "is_alive",
        "record_type",
    }
    assert data["record_type"] == "call"


async def test_the_sdk_reads_the_doubles_answers(telnyx):
    import telnyx as sdk

    client = sdk.AsyncTelnyx(api_key=telnyx.api_key, base_url=telnyx.api_base_url, max_retries=0)
    try:
        dialled = await client.calls.dial(
            connection_id=telnyx.connection_id, to=CALLEE, from_=CALLER, command_id="x"
        )
        assert dialled.data is not None
        ok = await client.calls.actions.speak(
            dialled.data.call_control_id, payload="Hi", voice="female", command_id="s"
        )
        assert ok.data is not None
        assert ok.data.result == "ok"
        with pytest.raises(sdk.UnprocessableEntityError) as caught:
            await client.calls.actions.speak(dialled.data.call_control_id, payload="", voice="x")
        assert caught.value.body["errors"][0]["code"] == "10015"
    finally:
        await client.close()


async def test_a_command_id_is_remembered_for_the_window_only(telnyx):
    clock = [1000.0]
    telnyx.api.clock = lambda: clock[0]
    auth = {"Authorization": f"Bearer {telnyx.api_key}"}
    call = telnyx.outgoing_call(CALLER, CALLEE)
    path = f"/calls/{call.call_control_id}/actions/send_dtmf"
    async with httpx.AsyncClient(base_url=telnyx.api_base_url, headers=auth) as http:
        for seconds in (0, 59.9, 60.1):  # the same command 0 s, 59.9 s and 60.1 s later
            clock[0] = 1000.0 + seconds
            await http.post(path, json={"digits": "1", "command_id": "same"})
    assert [r.duplicate for r in telnyx.requests] == [False, True, False]
    assert len(telnyx.commands(call.call_control_id, "send_dtmf")) == 2


async def test_client_state_must_be_base64_within_the_limit():
    async with TelnyxDouble(client_state_limit=8) as double:
        auth = {"Authorization": f"Bearer {double.api_key}"}
        call = double.outgoing_call(CALLER, CALLEE)
        path = f"/calls/{call.call_control_id}/actions/client_state_update"
        async with httpx.AsyncClient(base_url=double.api_base_url, headers=auth) as http:
            ok = await http.put(path, json={"client_state": base64.b64encode(b"abc").decode()})
            garbled = await http.put(path, json={"client_state": "not base64!"})
            long = await http.put(path, json={"client_state": base64.b64encode(b"x" * 9).decode()})
    assert [ok.status_code, garbled.status_code, long.status_code] == [200, 422, 422]
    assert double.state_of(call.call_control_id) is None  # "abc" is not a state of ours
    assert double.call(call.call_control_id).client_state == "YWJj"


async def test_failures_are_injected_in_order(telnyx):
    telnyx.fail_next(1, status=429, retry_after="3")
    telnyx.fail_next(1, status=503)
    async with httpx.AsyncClient(base_url=telnyx.api_base_url) as http:
        throttled = await http.get("/call_control_applications")
        unavailable = await http.get("/call_control_applications")
        unauthorized = await http.get("/call_control_applications")
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "3"
    assert throttled.json()["errors"][0]["code"] == "10011"
    assert unavailable.status_code == 503
    assert unauthorized.status_code == 401
