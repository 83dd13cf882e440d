"""Twilio-signed form posts with values no column can hold: a NUL in a field is kept (as
U+FFFD) and the call goes on; an over-long CallSid is refused (400) and the webhook kept.
Signatures are checked on the form exactly as it arrived. SQLite and PostgreSQL alike."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator
from twilio_helpers import ACME_NUMBER, store_credentials

import plugins.twilio.plugin
from kernel import tenant_scope
from kernel.testing import app_client, create_tenant, installed_plugin
from plugins.calls import Call, WebhookReceipt
from plugins.calls.testing import use_public_base_url

BASE = "http://testserver"
TOKEN = "0123456789abcdef" * 2
ACCOUNT = "AC" + "a" * 32


@pytest.fixture
async def app(kraliki_make_app, kraliki_installed_plugins):
    loaded = {getattr(plugin, "obj", plugin) for plugin in kraliki_installed_plugins}
    extra = [p for p in (installed_plugin("calls"), plugins.twilio.plugin) if p not in loaded]
    app = await kraliki_make_app(
        plugins=[*kraliki_installed_plugins, *extra], background_workers=False
    )
    use_public_base_url(app.state.platform, BASE)  # what the in-process client calls
    return app


@pytest.fixture
async def tenant(app) -> uuid.UUID:
    tenant_id = await create_tenant(app.state.platform, "acme")
    await store_credentials(app.state.platform, tenant_id, ACCOUNT, TOKEN)
    return tenant_id


async def _post(app, tenant, kind: str, form: dict[str, str], *, token: str = TOKEN):
    url = f"{BASE}/webhooks/twilio/{tenant}/{kind}"
    signature = RequestValidator(token).compute_signature(url, form)
    async with app_client(app) as client:
        return await client.post(
            url,
            data=form,
            headers={"X-Twilio-Signature": signature, "I-Twilio-Idempotency-Token": kind},
        )


def _inbound(sid: str, **fields: str) -> dict[str, str]:
    return {
        "CallSid": sid,
        "AccountSid": ACCOUNT,
        "From": "+14155550111",
        "To": ACME_NUMBER,
        "CallStatus": "ringing",
        "Direction": "inbound",
        **fields,
    }


async def _stored(app, tenant, model):
    with tenant_scope(tenant):
        async with app.state.platform.database.session() as session:
            return list(await session.scalars(select(model)))


async def test_a_nul_in_a_signed_field_is_kept_as_a_replacement_character(app, tenant):
    sid = "CA" + "1" * 32
    response = await _post(app, tenant, "voice", _inbound(sid, CallerName="Ja\x00ne"))
    assert response.status_code == 200, response.text
    [receipt] = await _stored(app, tenant, WebhookReceipt)
    assert (receipt.outcome, receipt.payload["CallerName"]) == ("processed", "Ja\ufffdne")
    [call] = await _stored(app, tenant, Call)
    assert call.provider_call_id == sid


async def test_the_signature_covers_the_form_as_it_arrived(app, tenant):
    """Signed without the NUL, sent with it: refused, whatever is done with it afterwards."""
    form = _inbound("CA" + "2" * 32, CallerName="Jane")
    url = f"{BASE}/webhooks/twilio/{tenant}/voice"
    signature = RequestValidator(TOKEN).compute_signature(url, form)
    async with app_client(app) as client:
        response = await client.post(
            url,
            data={**form, "CallerName": "Ja\x00ne"},
            headers={"X-Twilio-Signature": signature},
        )
    assert response.status_code == 403
    assert await _stored(app, tenant, WebhookReceipt) == []


async def test_an_over_long_call_sid_is_refused_and_kept(app, tenant):
    sid = "CA" + "9" * 300  # the column holds 128
    first = await _post(app, tenant, "voice", _inbound(sid))
    assert first.status_code == 400, first.text
    assert first.json()["type"] == "/problems/calls-webhook-malformed"
    [receipt] = await _stored(app, tenant, WebhookReceipt)
    assert receipt.outcome == "rejected"
    assert receipt.payload["CallSid"] == sid
    assert await _stored(app, tenant, Call) == []
    again = await _post(app, tenant, "voice", _inbound(sid))  # Twilio may try again
    assert again.status_code == 400
    assert len(await _stored(app, tenant, WebhookReceipt)) == 1


async def test_a_duration_beyond_its_column_is_refused_and_kept(app, tenant):
    sid = "CA" + "3" * 32
    assert (await _post(app, tenant, "voice", _inbound(sid))).status_code == 200
    ended = _inbound(sid, CallStatus="completed", CallDuration=str(2**31), SequenceNumber="4")
    response = await _post(app, tenant, "status", ended)
    assert response.status_code == 400, response.text
    outcomes = {r.kind: r.outcome for r in await _stored(app, tenant, WebhookReceipt)}
    assert outcomes == {"voice": "processed", "status": "rejected"}
    [call] = await _stored(app, tenant, Call)
    assert call.status != "completed"
