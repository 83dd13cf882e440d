"""Reconciliation against the Twilio double: a stale call is looked up with the Call resource
(``GET Calls/{sid}.json`` through the SDK and the resilience helper) and settled by what
Twilio says; a Twilio that does not answer leaves the call for the retry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from twilio_helpers import ACME_NUMBER, CALLEE

from kernel import tenant_scope
from kernel.testing import app_client
from plugins.calls import PERMISSIONS, CallSettingsRow
from plugins.calls.testing import age_calls, call_events, run_reconciliation

STALE = 1000  # seconds unheard of: past every status's threshold
ATTEMPTS = 3  # per REST request, as this directory's conftest sets stamina


@pytest.fixture
async def app(make_app):
    return await make_app()


@pytest.fixture
def platform(app):
    return app.state.platform


@pytest.fixture
async def api(app, platform, tenant, kraliki_authenticate) -> AsyncIterator[httpx.AsyncClient]:
    """An organization calling through the double's first account. The platform is not
    served: reconciliation asks Twilio, and Twilio calls nobody back here."""
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            session.add(
                CallSettingsRow(primary_provider="twilio", calls_per_second={"twilio": 100.0})
            )
            await session.commit()
    kraliki_authenticate(app, *(p.key for p in PERMISSIONS), kind="user", tenant_id=tenant)
    async with app_client(app) as client:
        yield client


async def place(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post("/api/v1/calls", json={"to": CALLEE, "from": ACME_NUMBER})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def detail(client: httpx.AsyncClient, call: dict[str, Any]) -> dict[str, Any]:
    return dict((await client.get(f"/api/v1/calls/{call['id']}")).json())


async def end_event(platform, tenant_id, call_id) -> tuple[str, dict]:
    return (await call_events(platform, tenant_id, call_id))[-1]


def fetches(double, sid: str) -> list:
    return double.to("GET", f"/Calls/{sid}.json")


async def test_a_call_twilio_ended_unreported_ends_here(api, platform, tenant, double):
    call = await place(api)
    sid = call["provider_call_id"]
    double.end_unreported(sid, "completed", duration=42)
    await age_calls(platform, tenant, STALE)
    await run_reconciliation(platform, tenant)

    done = await detail(api, call)
    assert (done["status"], done["duration_seconds"]) == ("completed", 42)
    name, payload = await end_event(platform, tenant, call["id"])
    assert (name, payload["reason"]) == ("calls.call.completed", "reconciled")
    [fetch] = fetches(double, sid)
    assert fetch.auth == (double.account_sid, double.auth_token)


async def test_a_call_ringing_at_twilio_moves_on_and_is_heard_of_again(
    api, platform, tenant, double
):
    call = await place(api)
    double.calls[call["provider_call_id"]].status = "ringing"  # its callbacks went missing
    await age_calls(platform, tenant, STALE)
    await run_reconciliation(platform, tenant)
    ringing = await detail(api, call)
    assert ringing["status"] == "ringing"
    assert ringing["ringing_at"] is not None
    assert (await end_event(platform, tenant, call["id"]))[0] == "calls.call.ringing"


async def test_twilio_not_answering_leaves_the_call_until_the_retry(api, platform, tenant, double):
    call = await place(api)
    sid = call["provider_call_id"]
    double.end_unreported(sid, "no-answer")
    double.fail_next(ATTEMPTS, 503)
    await age_calls(platform, tenant, STALE)
    await run_reconciliation(platform, tenant)
    assert (await detail(api, call))["status"] == "initiated"
    assert len(fetches(double, sid)) == ATTEMPTS  # retried, then left for later

    await run_reconciliation(platform, tenant)
    assert (await detail(api, call))["status"] == "no-answer"


async def test_a_call_twilio_does_not_know_fails(api, platform, tenant, double):
    call = await place(api)
    del double.calls[call["provider_call_id"]]  # another account's, or purged
    await age_calls(platform, tenant, STALE)
    await run_reconciliation(platform, tenant)
    failed = await detail(api, call)
    assert (failed["status"], failed["hangup_cause"]) == ("failed", "unknown-at-provider")
