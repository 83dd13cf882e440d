"""Reconciliation against the Telnyx double: a stale call's status is asked for with
``GET /v2/calls/{call_control_id}`` (the SDK's ``calls.retrieve_status``) and settled by it:
alive, ended (completed when it was answered, else failed), or forgotten ten minutes after
its end; a Telnyx that does not answer leaves the call for the retry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from telnyx_helpers import CALLEE, CALLER

from plugins.calls.testing import age_calls, call_events, run_reconciliation

STALE = 1000  # seconds unheard of: past every status's threshold
ATTEMPTS = 3  # per REST request, as this directory's conftest sets stamina


async def place(api: httpx.AsyncClient) -> dict[str, Any]:
    response = await api.post("/api/v1/calls", json={"to": CALLEE, "from": CALLER})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def detail(api: httpx.AsyncClient, call: dict[str, Any]) -> dict[str, Any]:
    return dict((await api.get(f"/api/v1/calls/{call['id']}")).json())


async def last_event(platform, tenant_id, call_id) -> tuple[str, dict]:
    return (await call_events(platform, tenant_id, call_id))[-1]


def status_requests(telnyx, control_id: str) -> list:
    return [r for r in telnyx.requests if r.method == "GET" and r.path == f"/v2/calls/{control_id}"]


async def test_an_answered_call_telnyx_ended_unreported_completes(api, telnyx, platform, acme):
    call = await place(api)
    control_id = call["provider_call_id"]
    assert (await telnyx.send_event(control_id, "call.answered")).status == 200
    telnyx.call(control_id).start_time -= timedelta(seconds=42)
    telnyx.end_unreported(control_id)  # its call.hangup never arrives
    await age_calls(platform, acme, STALE)
    await run_reconciliation(platform, acme)

    done = await detail(api, call)
    assert (done["status"], done["duration_seconds"]) == ("completed", 42)
    name, payload = await last_event(platform, acme, call["id"])
    assert (name, payload["reason"]) == ("calls.call.completed", "reconciled")
    [asked] = status_requests(telnyx, control_id)
    assert asked.headers["authorization"] == f"Bearer {telnyx.api_key}"


async def test_a_call_not_answered_that_ended_unreported_fails(api, telnyx, platform, acme):
    call = await place(api)
    telnyx.end_unreported(call["provider_call_id"])
    await age_calls(platform, acme, STALE)
    await run_reconciliation(platform, acme)
    failed = await detail(api, call)
    assert failed["status"] == "failed"
    assert (await last_event(platform, acme, call["id"]))[1]["reason"] == "reconciled"


async def test_a_call_alive_at_telnyx_is_heard_of_again(api, telnyx, platform, acme):
    call = await place(api)
    await age_calls(platform, acme, STALE)
    entries = len((await detail(api, call))["timeline"])
    await run_reconciliation(platform, acme)
    alive = await detail(api, call)
    assert alive["status"] == "initiated"
    assert len(alive["timeline"]) == entries
    assert len(status_requests(telnyx, call["provider_call_id"])) == 1
    await run_reconciliation(platform, acme)  # heard of: not stale, not asked again
    assert len(status_requests(telnyx, call["provider_call_id"])) == 1


async def test_a_call_telnyx_forgot_after_its_end_has_ended(api, telnyx, platform, acme):
    call = await place(api)
    control_id = call["provider_call_id"]
    await telnyx.send_event(control_id, "call.answered")
    telnyx.forget(control_id)  # ended more than ten minutes ago: 404
    await age_calls(platform, acme, STALE)
    await run_reconciliation(platform, acme)
    assert (await detail(api, call))["status"] == "completed"


async def test_telnyx_not_answering_leaves_the_call_until_the_retry(api, telnyx, platform, acme):
    call = await place(api)
    control_id = call["provider_call_id"]
    telnyx.end_unreported(control_id)
    telnyx.fail_next(ATTEMPTS, 503)
    await age_calls(platform, acme, STALE)
    await run_reconciliation(platform, acme)
    assert (await detail(api, call))["status"] == "initiated"
    assert len(status_requests(telnyx, control_id)) == ATTEMPTS

    await run_reconciliation(platform, acme)
    assert (await detail(api, call))["status"] == "failed"
