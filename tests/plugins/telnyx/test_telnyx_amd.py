"""Asynchronous answering-machine detection on Telnyx, end to end: the dial asks for
``answering_machine_detection`` (``detect``, or ``detect_beep`` to hear the end of a
machine's greeting), the call's script runs from the answer, and the double sends
``call.machine.detection.ended`` and ``call.machine.greeting.ended`` as Telnyx does."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from telnyx_helpers import CALLEE, CALLER

from kernel.testing import outbox_events
from plugins.telnyx.testing import TelnyxDouble

SCRIPT = [{"kind": "say", "text": "Your order has shipped."}]


async def place(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    body = {"to": CALLEE, "from": CALLER, "instructions": SCRIPT, **body}
    response = await api.post("/api/v1/calls", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def detail(api: httpx.AsyncClient, call: dict[str, Any]) -> dict[str, Any]:
    return dict((await api.get(f"/api/v1/calls/{call['id']}")).json())


async def verdicts(platform: Any, tenant: Any, call: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        r.payload
        for r in await outbox_events(platform, tenant)
        if r.name == "calls.call.machine_detected" and r.payload["call_id"] == call["id"]
    ]


@pytest.mark.parametrize(
    ("body", "mode"),
    [
        ({"detection": "detect"}, "detect"),
        ({"detection": "detect-message-end"}, "detect_beep"),
        ({"machine_detection": True}, "detect"),
        ({}, None),
    ],
)
async def test_the_dial_asks_for_detection(api, telnyx: TelnyxDouble, body, mode):
    call = await place(api, **body)

    [dial] = telnyx.commands(action="dial")
    assert dial.body.get("answering_machine_detection") == mode
    assert telnyx.call(call["provider_call_id"]).machine_detection == mode


async def test_a_machine_then_its_greetings_end(api, telnyx: TelnyxDouble, platform, acme):
    call = await place(api, detection="detect-message-end")
    control_id = call["provider_call_id"]
    await telnyx.send_event(control_id, "call.initiated")
    await telnyx.send_event(control_id, "call.answered")
    [speak] = telnyx.commands(control_id, "speak")  # connected at once: the script runs
    assert speak.body["payload"] == "Your order has shipped."

    sent = await telnyx.detect_machine(control_id, "machine", greeting="beep_detected")

    assert [(s.event_type, s.status) for s in sent] == [
        ("call.machine.detection.ended", 200),
        ("call.machine.greeting.ended", 200),
    ]
    assert [s.json()["data"]["payload"]["result"] for s in sent] == ["machine", "beep_detected"]
    done = await detail(api, call)
    assert (done["status"], done["answered_by"]) == ("in-progress", "machine")
    entries = [e["detail"] for e in done["timeline"] if e["kind"] == "machine-detected"]
    assert [(e["answered_by"], e.get("greeting_ended"), e.get("beep")) for e in entries] == [
        ("machine", None, None),
        ("machine", True, True),
    ]
    published = await verdicts(platform, acme, call)
    assert [(p["answered_by"], p["greeting_ended"], p["beep"]) for p in published] == [
        ("machine", False, None),
        ("machine", True, True),
    ]


async def test_a_human_gets_one_verdict(api, telnyx: TelnyxDouble, platform, acme):
    call = await place(api, detection="detect-message-end")
    control_id = call["provider_call_id"]
    await telnyx.send_event(control_id, "call.answered")

    sent = await telnyx.detect_machine(control_id, "human")

    assert [s.event_type for s in sent] == ["call.machine.detection.ended"]
    assert (await detail(api, call))["answered_by"] == "human"
    [published] = await verdicts(platform, acme, call)
    assert (published["answered_by"], published["greeting_ended"]) == ("human", False)


async def test_a_redelivered_verdict_is_applied_once(api, telnyx: TelnyxDouble, platform, acme):
    call = await place(api, detection="detect")
    control_id = call["provider_call_id"]
    await telnyx.send_event(control_id, "call.answered")
    [sent] = await telnyx.detect_machine(control_id, "machine")

    again = await telnyx.resend(sent)

    assert again.status == 200
    done = await detail(api, call)
    assert [e["kind"] for e in done["timeline"]].count("machine-detected") == 1
    assert len(await verdicts(platform, acme, call)) == 1


async def test_forged_and_unsigned_verdicts_change_nothing(
    api, telnyx: TelnyxDouble, platform, acme
):
    call = await place(api, detection="detect")
    control_id = call["provider_call_id"]
    await telnyx.send_event(control_id, "call.answered")
    url = telnyx.call(control_id).webhook_url
    assert url is not None
    body = json.dumps(
        telnyx.build_event(control_id, "call.machine.detection.ended", result="machine")
    ).encode()
    stamp = str(int(time.time()))

    forged = await telnyx.send_raw(
        url, body, timestamp=stamp, signature=TelnyxDouble().sign(body, stamp)
    )
    unsigned = await telnyx.send_raw(url, body)

    assert (forged.status, unsigned.status) == (403, 403)
    assert (await detail(api, call))["answered_by"] is None
    assert await verdicts(platform, acme, call) == []
