"""A campaign's answering-machine policy end to end on the loopback provider, through the
HTTP API: an agentless campaign calls a scripted answering machine and a person
(``KRALIKI_LOOPBACK_CALLEES``). Detection is asynchronous: the flow starts at the answer
and the verdict comes later. With ``message`` the machine hears the campaign's message after
its beep and the call ends; with ``hangup`` it is hung up; the person hears the flow either
way. The background workers run the dialer and deliver the calls' events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from campaigns_helpers import BASE, NUMBER
from campaigns_loopback import (
    client_of,
    loopback_with_callees,
    midday_zone,
    ok,
    until,
)

from plugins.loopback import testing
from plugins.loopback.testing import LoopbackCalls, call_log

loopback_calls = testing.loopback_calls

MACHINE = "+14155553001"
PERSON = "+14155553002"
GREETING = "Hi, this is Ada. Leave a message after the tone."
MESSAGE = "This is Acme Dental about your appointment tomorrow. Please call us back."
THANKS = "Thank you, see you tomorrow."
CALLEES = {
    MACHINE: [
        [
            {"step": "ring", "seconds": 1},
            {"step": "answer", "by": "machine", "detect_after": 1.5},
            {"step": "say", "text": GREETING},
            {"step": "wait", "seconds": 3000},
            "hangup",
        ]
    ],
    PERSON: [[{"answer_after": 1}, {"step": "press", "digits": "1"}, {"hangup_after": 60}]],
}
FLOW = {
    "start": "confirm",
    "nodes": {
        "confirm": {
            "type": "gather",
            "prompt": "This is Acme Dental. Press 1 to confirm your appointment tomorrow.",
            "num_digits": 1,
            "timeout_seconds": 60,
            "retries": 5,
            "exits": {"next": "thanks", "no_input": "bye"},
        },
        "thanks": {"type": "say", "text": THANKS, "exits": {"next": "bye"}},
        "bye": {"type": "hangup", "message": "Goodbye."},
    },
}
"""It waits for a key long enough (at loopback's time scale) for the verdict to come back."""


@pytest.fixture
def calls(request: pytest.FixtureRequest) -> LoopbackCalls:
    return loopback_with_callees(request, CALLEES)


@pytest.fixture
async def api(calls: LoopbackCalls) -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_of(calls):
        yield client


async def campaign(api: httpx.AsyncClient, amd: dict[str, Any]) -> str:
    """An agentless campaign calling the machine and the person with this AMD policy,
    activated."""
    zone = midday_zone()
    await ok(
        await api.post("/api/v1/calls/numbers", json={"number": NUMBER, "provider": "loopback"}),
        201,
    )
    flow = await ok(
        await api.post("/api/v1/ivr/flows", json={"name": "Confirm", "draft": FLOW}), 201
    )
    await ok(await api.post(f"/api/v1/ivr/flows/{flow['id']}/publish", json={}), 201)
    contacts = []
    for name, number in (("Ada", MACHINE), ("Ben", PERSON)):
        body = {"name": name, "phones": [number], "time_zone": zone}
        contacts.append(str((await ok(await api.post("/api/v1/contacts", json=body), 201))["id"]))
    created = await ok(
        await api.post(
            BASE,
            json={
                "name": "Confirmations",
                "mode": "agentless",
                "source": {"kind": "list", "contact_ids": contacts},
                "flow_id": flow["id"],
                "caller_id": NUMBER,
                "consent_purpose": "informational",
                "lines": 2,
                "amd": amd,
                "schedule": {
                    "time_zone": zone,
                    "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                    "hours": [{"start": "09:00", "end": "16:00"}],
                },
                "retry": {"machine": {"max_attempts": 0, "after_minutes": 60}},
            },
        ),
        201,
    )
    assert created["amd"] == {"enabled": True, "message": None, "on_machine": "hangup"} | amd
    await ok(await api.post(f"{BASE}/{created['id']}/activate", json={}))
    return str(created["id"])


async def finished(api: httpx.AsyncClient, campaign_id: str) -> dict[str, dict[str, Any]]:
    """The campaign's ended attempts by number, once it completed."""

    async def completed() -> bool:
        return (await ok(await api.get(f"{BASE}/{campaign_id}")))["state"] == "completed"

    await until(completed)
    page = await ok(await api.get(f"{BASE}/{campaign_id}/attempts"))
    return {a["number"]: a for a in page["items"]}


async def call_of(api: httpx.AsyncClient, attempt: dict[str, Any]) -> dict[str, Any]:
    return dict(await ok(await api.get(f"/api/v1/calls/{attempt['call_id']}")))


async def verdicts(calls: LoopbackCalls, call_id: str) -> list[dict[str, Any]]:
    """The verdicts delivered to plugins about the call (once there is one: plugins may
    hear of them after the API shows the campaign completed)."""

    def found() -> list[dict[str, Any]]:
        return [
            e.payload
            for e in calls.delivered
            if e.name == "calls.call.machine_detected" and str(e.payload["call_id"]) == call_id
        ]

    async def any_found() -> bool:
        return bool(found())

    await until(any_found)
    return found()


async def test_a_message_is_left_after_the_beep_and_a_person_hears_the_flow(
    calls: LoopbackCalls, api: httpx.AsyncClient
):
    campaign_id = await campaign(api, {"on_machine": "message", "message": MESSAGE})

    attempts = await finished(api, campaign_id)

    machine = attempts[MACHINE]
    assert (machine["outcome"], machine["answered_by"], machine["amd_action"]) == (
        "machine",
        "machine",
        "message",
    )
    call = await call_of(api, machine)
    assert (call["status"], call["answered_by"]) == ("completed", "machine")
    [verdict] = await verdicts(calls, machine["call_id"])
    assert (verdict["answered_by"], verdict["greeting_ended"], verdict["beep"]) == (
        "machine",
        True,
        True,
    )
    assert [e["kind"] for e in call["timeline"]].count("machine-detected") == 1
    assert any(e["kind"] == "redirected" for e in call["timeline"])
    lines = call_log(calls.platform, call["provider_call_id"])
    assert ("heard", MESSAGE) in lines
    assert lines.index(("beep", "")) < lines.index(("heard", MESSAGE))
    assert ("heard", THANKS) not in lines

    person = attempts[PERSON]
    assert (person["outcome"], person["answered_by"], person["amd_action"]) == (
        "human",
        "human",
        None,
    )
    call = await call_of(api, person)
    [verdict] = await verdicts(calls, person["call_id"])
    assert (verdict["answered_by"], verdict["greeting_ended"]) == ("human", False)
    lines = call_log(calls.platform, call["provider_call_id"])
    assert ("pressed", "1") in lines
    assert ("heard", THANKS) in lines
    assert ("heard", MESSAGE) not in lines


async def test_a_machine_is_hung_up_on(calls: LoopbackCalls, api: httpx.AsyncClient):
    campaign_id = await campaign(api, {"on_machine": "hangup"})

    attempts = await finished(api, campaign_id)

    machine = attempts[MACHINE]
    assert (machine["outcome"], machine["answered_by"], machine["amd_action"]) == (
        "machine",
        "machine",
        "hangup",
    )
    call = await call_of(api, machine)
    assert call["status"] == "completed"
    # Detection without message end: the verdict comes as soon as it is known.
    [verdict] = await verdicts(calls, machine["call_id"])
    assert (verdict["answered_by"], verdict["greeting_ended"]) == ("machine", False)
    [hangup] = [e for e in call["timeline"] if e["kind"] == "action"]
    assert hangup["detail"]["action"] == "hangup"
    assert hangup["detail"]["actor"] == "campaigns"
    lines = call_log(calls.platform, call["provider_call_id"])
    assert not [line for line in lines if line[0] in ("heard", "redirected")]
    assert attempts[PERSON]["outcome"] == "human"
    assert attempts[PERSON]["amd_action"] is None
