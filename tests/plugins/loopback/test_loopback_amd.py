"""Asynchronous answering-machine detection on loopback, through the platform over real
HTTP: scripted callees that answer as a person or a machine, the verdict reported by the
carrier's signed ``amd`` webhook after the answer (a machine's at its beep with message
end), stored on the call and published; repeated, forged and stale verdicts."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import test_loopback_e2e as e2e
from test_loopback_e2e import detail, place, until

from plugins.calls import AnsweredBy
from plugins.calls.testing import call_events
from plugins.loopback.carrier.script import ScriptError, parse_script
from plugins.loopback.payloads import AmdBody
from plugins.loopback.testing import call_log, send_signed, tenant_secret

platform_url, api = e2e.platform_url, e2e.api  # the end-to-end tests' fixtures

GREETING = "You reached Ada. Leave a message after the tone."


def machine(**answer: Any) -> list[Any]:
    return [
        {"step": "answer", "by": "machine", **answer},
        {"step": "say", "text": GREETING},
        {"step": "wait", "seconds": 3000},
        "hangup",
    ]


PERSON = [{"step": "answer", "detect_after": 1}, {"step": "wait", "seconds": 3000}, "hangup"]
SAY = [{"kind": "say", "text": "Hello from Acme."}, {"kind": "pause", "seconds": 600}]
"""What the call runs from the answer: the line stays open while detection listens."""


async def verdicts(platform: Any, tenant: Any, call_id: str) -> list[dict[str, Any]]:
    return [
        payload
        for name, payload in await call_events(platform, tenant, call_id)
        if name == "calls.call.machine_detected"
    ]


async def verdict_of(platform: Any, tenant: Any, call_id: str) -> list[dict[str, Any]]:
    """The call's published verdicts, once there is one."""
    async with asyncio.timeout(10):
        while not (found := await verdicts(platform, tenant, call_id)):  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    return found


@pytest.mark.parametrize(
    ("script", "detection", "answered_by", "greeting_ended", "beep"),
    [
        (PERSON, "detect", "human", False, None),
        (PERSON, "detect-message-end", "human", False, None),
        (machine(), "detect", "machine", False, None),
        (machine(), "detect-message-end", "machine", True, True),
        (machine(beep=False), "detect-message-end", "machine", True, False),
    ],
    ids=["person", "person-message-end", "machine", "machine-beep", "machine-no-beep"],
)
async def test_the_verdict_comes_after_the_answer(
    api, platform, tenant, script, detection, answered_by, greeting_ended, beep
):
    call = await place(api, options={"script": script}, detection=detection, instructions=SAY)

    [published] = await verdict_of(platform, tenant, call["id"])

    assert (published["answered_by"], published["greeting_ended"], published["beep"]) == (
        answered_by,
        greeting_ended,
        beep,
    )
    found = await detail(api, call["id"])
    assert found["answered_by"] == answered_by
    answered = [e for e in found["timeline"] if e["kind"] == "status"]
    assert [e["status"] for e in answered][-1] == "in-progress"
    assert "answered_by" not in answered[-1]["detail"]  # connected before the verdict
    lines = call_log(platform, call["provider_call_id"])
    assert ("heard", "Hello from Acme.") in lines  # the instructions ran from the answer
    assert ("detected", answered_by) in lines
    if greeting_ended and beep:
        assert lines.index(("beep", "")) < lines.index(("detected", "machine"))
    await api.post(f"/api/v1/calls/{call['id']}/hangup")
    await until(api, call["id"])


async def test_synchronous_detection_stays_as_it_was(api, platform, tenant):
    call = await place(api, options={"script": machine()}, machine_detection=True)

    found = await until(api, call["id"], "in-progress")

    assert found["answered_by"] == "machine"
    assert await verdicts(platform, tenant, call["id"]) == []
    await api.post(f"/api/v1/calls/{call['id']}/hangup")


async def test_repeated_forged_and_stale_verdicts(api, platform, tenant, platform_url):
    secret = await tenant_secret(platform, tenant)
    call = await place(api, options={"script": PERSON})
    await until(api, call["id"], "in-progress")
    sid = call["provider_call_id"]
    body = AmdBody(
        call_id=sid,
        sequence=50,
        occurred_at=datetime.now(UTC),
        answered_by=AnsweredBy.MACHINE,
        greeting_ended=True,
        beep=True,
    )

    first = await send_signed(platform_url, tenant, "amd", body, secret, event_id="EVamd")
    again = await send_signed(platform_url, tenant, "amd", body, secret, event_id="EVamd")
    forged = await send_signed(platform_url, tenant, "amd", body, "guessed")
    stale = await send_signed(
        platform_url, tenant, "amd", body, secret, timestamp=int(time.time()) - 3600
    )
    misplaced = await send_signed(platform_url, tenant, "status", body, secret)

    assert (first.status_code, again.status_code) == (200, 200)
    assert (forged.status_code, stale.status_code, misplaced.status_code) == (403, 403, 400)
    [published] = await verdicts(platform, tenant, call["id"])
    assert (published["answered_by"], published["beep"]) == ("machine", True)
    found = await detail(api, call["id"])
    assert found["answered_by"] == "machine"
    assert [e["kind"] for e in found["timeline"]].count("machine-detected") == 1
    await api.post(f"/api/v1/calls/{call['id']}/hangup")


def test_an_answer_takes_a_detection_delay_and_a_beep():
    script = parse_script([{"step": "answer", "by": "machine", "detect_after": 4, "beep": False}])
    assert (script.outcome.detect_after, script.outcome.beep) == (4, False)
    with pytest.raises(ScriptError, match="detect_after"):
        parse_script([{"step": "answer", "detect_after": -1}])
