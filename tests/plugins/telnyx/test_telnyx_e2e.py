"""End to end over HTTP: calls placed through ``POST /api/v1/calls`` at the Telnyx double,
driven by the double's signed webhooks to the platform served on loopback."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta

import httpx
import pytest
from telnyx_helpers import CALLEE, CALLER, calling_tenant

from plugins.telnyx.testing import TelnyxDouble
from plugins.telnyx.testing_rest import now

SCRIPT = [{"kind": "say", "text": "Your order has shipped."}, {"kind": "hangup"}]


async def place(api: httpx.AsyncClient, **body) -> dict:
    body = {"to": CALLEE, "from": CALLER, "instructions": SCRIPT, **body}
    response = await api.post("/api/v1/calls", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def status_of(api: httpx.AsyncClient, call: dict) -> str:
    return str((await api.get(f"/api/v1/calls/{call['id']}")).json()["status"])


async def test_a_call_from_dial_to_hangup(api, telnyx, served, acme):
    call = await place(api)
    control_id = call["provider_call_id"]
    [dial] = telnyx.commands(action="dial")
    assert dial.body["webhook_url"] == (f"{served}/webhooks/telnyx/{acme}/events?call={call['id']}")
    assert (await telnyx.send_event(control_id, "call.initiated")).status == 200
    answered = await telnyx.send_event(control_id, "call.answered")
    assert (answered.status, answered.response) == (200, b"")  # commands, not a document
    [speak] = telnyx.commands(control_id, "speak")
    assert speak.body["payload"] == "Your order has shipped."
    assert (await telnyx.send_event(control_id, "call.speak.ended")).status == 200
    [hangup] = telnyx.commands(control_id, "hangup")
    started = telnyx.call(control_id).start_time
    await telnyx.send_event(
        control_id, "call.hangup", end_time=(started + timedelta(seconds=42)).isoformat()
    )
    detail = (await api.get(f"/api/v1/calls/{call['id']}")).json()
    assert detail["status"] == "completed"
    assert detail["hangup_cause"] == "normal_clearing"
    assert detail["duration_seconds"] == 42
    assert detail["answered_at"] is not None
    assert hangup.command_id != speak.command_id


async def test_a_webhook_that_beats_the_dial_answer_finds_its_call(api, telnyx):
    """Telnyx may report the call before answering the dial: the call id in the webhook URL
    binds it all the same."""
    early: list[int] = []

    async def report_first(call) -> None:
        early.append((await telnyx.send_event(call.call_control_id, "call.initiated")).status)

    telnyx.on_dial = report_first
    call = await place(api)
    assert early == [200]
    assert await status_of(api, call) == "initiated"
    detail = (await api.get(f"/api/v1/calls/{call['id']}")).json()
    entries = [(entry["source"], entry["status"]) for entry in detail["timeline"]]
    assert ("provider", "initiated") in entries


@pytest.mark.parametrize(
    ("cause", "status"),
    [
        ("user_busy", "busy"),
        ("timeout", "no-answer"),
        ("call_rejected", "failed"),
        ("unallocated_number", "failed"),
        ("originator_cancel", "canceled"),
    ],
)
async def test_calls_that_never_connect(api, telnyx, cause, status):
    call = await place(api)
    control_id = call["provider_call_id"]
    await telnyx.send_event(control_id, "call.initiated")
    await telnyx.send_event(control_id, "call.hangup", hangup_cause=cause, sip_hangup_cause=None)
    detail = (await api.get(f"/api/v1/calls/{call['id']}")).json()
    assert (detail["status"], detail["hangup_cause"]) == (status, cause)
    assert detail["answered_at"] is None
    assert telnyx.commands(control_id) == []


async def test_duplicates_and_late_events_change_nothing(api, telnyx):
    call = await place(api)
    control_id = call["provider_call_id"]
    initiated = telnyx.build_event(control_id, "call.initiated", occurred_at=now())
    answered = await telnyx.send_event(control_id, "call.answered")
    late = await telnyx.deliver(initiated, answered.url)  # arrives after the answer
    again = await telnyx.resend(answered)  # Telnyx delivers the answer twice
    assert (late.status, again.status) == (200, 200)
    assert await status_of(api, call) == "in-progress"
    assert len(telnyx.commands(control_id, "speak")) == 1  # the script ran once

    await telnyx.send_event(control_id, "call.hangup")
    late_answer = await telnyx.send_event(
        control_id, "call.answered", occurred_at=now() - timedelta(seconds=5)
    )
    assert late_answer.status == 200
    assert await status_of(api, call) == "completed"
    assert len(telnyx.commands(control_id, "speak")) == 1


async def test_simultaneous_webhooks(api, telnyx):
    import asyncio

    call = await place(api)
    control_id = call["provider_call_id"]
    answered = telnyx.build_event(control_id, "call.answered")
    url = telnyx.call(control_id).webhook_url
    results = await asyncio.gather(*(telnyx.deliver(answered, url) for _ in range(3)))
    assert {sent.status for sent in results} == {200}
    assert len(telnyx.commands(control_id, "speak")) == 1


async def test_forged_tampered_unsigned_and_stale_webhooks_are_refused(api, telnyx):
    call = await place(api)
    control_id = call["provider_call_id"]
    url = telnyx.call(control_id).webhook_url
    assert url is not None
    document = telnyx.build_event(control_id, "call.answered")
    body = json.dumps(document).encode()
    stamp = str(int(time.time()))
    forger = TelnyxDouble()
    attempts = [
        await telnyx.send_raw(url, body, timestamp=stamp, signature=forger.sign(body, stamp)),
        await telnyx.send_raw(
            url,
            body.replace(b"answered", b"hangup"),
            timestamp=stamp,
            signature=telnyx.sign(body, stamp),
        ),
        await telnyx.send_raw(url, body),
        await telnyx.send_event(control_id, "call.answered", timestamp=int(time.time()) - 330),
        await telnyx.send_event(control_id, "call.answered", timestamp=int(time.time()) + 330),
    ]
    assert [sent.status for sent in attempts] == [403] * 5
    assert all(b"signature" in sent.response for sent in attempts)
    assert await status_of(api, call) == "initiated"
    assert telnyx.commands(control_id, "speak") == []


async def test_one_tenants_url_does_not_take_another_tenants_signature(
    api, telnyx, platform, served, acme
):
    async with TelnyxDouble() as globex_account:
        globex = await calling_tenant(platform, "globex", globex_account)
        call = await place(api)
        control_id = call["provider_call_id"]
        document = telnyx.build_event(control_id, "call.answered")
        acme_url = f"{served}/webhooks/telnyx/{acme}/events"
        globex_url = f"{served}/webhooks/telnyx/{globex}/events"
        signed_by_globex = await globex_account.deliver(document, acme_url)
        signed_by_acme = await telnyx.deliver(document, globex_url)
        assert (signed_by_globex.status, signed_by_acme.status) == (403, 403)
        # Globex's own, authentic webhook about acme's call reaches no acme call.
        assert (await globex_account.deliver(document, globex_url)).status == 200
    assert await status_of(api, call) == "initiated"
    assert telnyx.commands(control_id) == []


async def test_an_unknown_tenant_is_not_found(api, telnyx, served):
    call = telnyx.outgoing_call(CALLER, CALLEE)
    sent = await telnyx.send_event(
        call.call_control_id,
        "call.initiated",
        url=f"{served}/webhooks/telnyx/{uuid.uuid4()}/events",
    )
    assert sent.status == 404


async def test_an_inbound_call_is_answered_and_forwarded(api, telnyx, served, acme):
    number = "+14155550123"
    created = await api.post(
        "/api/v1/calls/numbers",
        json={"number": number, "provider": "telnyx", "route": "forward", "forward_to": CALLEE},
    )
    assert created.status_code == 201, created.text
    incoming = telnyx.incoming_call(
        "+420602000111", number, webhook_url=f"{served}/webhooks/telnyx/{acme}/events"
    )
    control_id = incoming.call_control_id
    assert (await telnyx.send_event(control_id, "call.initiated")).status == 200
    [answer] = telnyx.commands(control_id)
    assert answer.action == "answer"
    await telnyx.send_event(control_id, "call.answered")
    [answer, transfer] = telnyx.commands(control_id)
    assert (transfer.action, transfer.body["to"]) == ("transfer", CALLEE)
    calls = (await api.get("/api/v1/calls", params={"direction": "inbound"})).json()["items"]
    assert [(c["provider_call_id"], c["status"]) for c in calls] == [(control_id, "in-progress")]


async def test_a_recording_reaches_the_api_and_its_audio_streams(api, telnyx):
    call = await place(api, record=True, instructions=[])
    control_id = call["provider_call_id"]
    [dial] = telnyx.commands(action="dial")
    assert dial.body["record"] == "record-from-answer"
    await telnyx.send_event(control_id, "call.answered")
    recording = telnyx.add_recording(control_id, b"ID3" + bytes(5000))
    await telnyx.send_event(control_id, "call.recording.saved", recording=recording)
    [listed] = (await api.get(f"/api/v1/calls/{call['id']}/recordings")).json()
    assert (listed["status"], listed["content_type"]) == ("completed", "audio/mpeg")
    audio = await api.get(f"/api/v1/calls/{call['id']}/recordings/{listed['id']}/audio")
    assert audio.status_code == 200, audio.text
    assert audio.content == recording.content
    deleted = await api.delete(f"/api/v1/calls/{call['id']}/recordings/{listed['id']}")
    assert deleted.status_code == 204
    assert recording.deleted


async def test_controlling_a_live_call_over_the_api(api, telnyx):
    call = await place(api, instructions=[])
    control_id = call["provider_call_id"]
    await telnyx.send_event(control_id, "call.answered")
    dtmf = await api.post(f"/api/v1/calls/{call['id']}/dtmf", json={"digits": "12#"})
    assert dtmf.status_code == 200, dtmf.text
    hangup = await api.post(f"/api/v1/calls/{call['id']}/hangup")
    assert hangup.status_code == 200, hangup.text
    actions = [c.action for c in telnyx.commands(control_id)]
    assert actions[-2:] == ["send_dtmf", "hangup"]
    assert all(c.command_id for c in telnyx.commands(control_id))


async def test_telnyx_refusing_the_number(api, telnyx):
    telnyx.fail_next(1, status=422, code="10016", title="Invalid destination")
    response = await api.post("/api/v1/calls", json={"to": CALLEE, "from": CALLER})
    assert response.status_code == 422
    assert "Invalid destination" in response.text
