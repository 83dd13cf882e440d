"""Webhook verification: Telnyx's real signatures pass; forged, unsigned, tampered, stale,
future and other tenants' ones are rejected."""

from __future__ import annotations

import base64
import json
import time

import pytest
from telnyx_helpers import CALLEE, CALLER, provider_for, signed, store_secrets, webhook

from kernel.testing import create_tenant
from plugins.calls import WebhookMalformed, WebhookRejected
from plugins.telnyx.signature import SignatureError, verify_signature
from plugins.telnyx.testing import TelnyxDouble


@pytest.fixture
def document(telnyx: TelnyxDouble) -> dict:
    call = telnyx.outgoing_call(CALLER, CALLEE)
    return telnyx.build_event(call.call_control_id, "call.answered")


async def test_a_telnyx_signature_is_accepted(provider, telnyx, document):
    await provider.verify_webhook(signed(telnyx, document, int(time.time())))


# A few seconds' margin: the clock moves between signing and checking on a busy machine (the
# exact boundary is tested with a fixed clock below).
@pytest.mark.parametrize("age", [-290, 290])
async def test_a_timestamp_within_the_tolerance_is_accepted(provider, telnyx, document, age):
    await provider.verify_webhook(signed(telnyx, document, int(time.time()) - age))


@pytest.mark.parametrize(("age", "words"), [(330, r"3[23]\d s off"), (-330, r"3[23]\d s off")])
async def test_stale_and_future_timestamps_are_rejected(provider, telnyx, document, age, words):
    with pytest.raises(WebhookRejected, match=words):
        await provider.verify_webhook(signed(telnyx, document, int(time.time()) - age))


async def test_a_signature_by_another_key_is_rejected(provider, document):
    forger = TelnyxDouble()
    with pytest.raises(WebhookRejected, match="does not match"):
        await provider.verify_webhook(signed(forger, document, int(time.time())))


async def test_a_tampered_body_is_rejected(provider, telnyx, document):
    request = signed(telnyx, document, int(time.time()))
    tampered = request.body.replace(b"call.answered", b"call.hangup")
    with pytest.raises(WebhookRejected, match="does not match"):
        await provider.verify_webhook(webhook(tampered, request.headers))


async def test_a_replayed_signature_with_a_new_timestamp_is_rejected(provider, telnyx, document):
    request = signed(telnyx, document, int(time.time()) - 1000)
    headers = {**request.headers, "telnyx-timestamp": str(int(time.time()))}
    with pytest.raises(WebhookRejected, match="does not match"):
        await provider.verify_webhook(webhook(request.body, headers))


NOW = "now"


@pytest.mark.parametrize(
    ("timestamp", "signature", "words"),
    [
        (None, None, "not signed"),
        ("1700000000", None, "not signed"),
        (None, "c2ln", "not signed"),
        ("soon", "c2ln", "Unix time"),
        (NOW, "***", "not base64"),
        (NOW, base64.b64encode(b"short").decode(), "64 bytes"),
    ],
)
async def test_unsigned_and_garbled_signatures_are_rejected(
    provider, document, timestamp, signature, words
):
    headers = {}
    if timestamp is not None:
        headers["telnyx-timestamp"] = str(int(time.time())) if timestamp == NOW else timestamp
    if signature is not None:
        headers["telnyx-signature-ed25519"] = signature
    request = webhook(json.dumps(document).encode(), headers)
    with pytest.raises(WebhookRejected, match=words):
        await provider.verify_webhook(request)


async def test_another_tenants_key_does_not_verify(platform, provider, telnyx, document):
    """Tenant B's provider checks with B's key: a webhook signed for A's account fails."""
    other_account = TelnyxDouble()
    tenant_b = await create_tenant(platform, "globex")
    await store_secrets(platform, tenant_b, other_account)
    request = signed(telnyx, document, int(time.time()))
    await provider.verify_webhook(request)
    with pytest.raises(WebhookRejected, match="does not match"):
        await provider_for(platform, tenant_b).verify_webhook(request)


async def test_a_tenant_without_a_public_key_accepts_nothing(platform, telnyx, document):
    tenant_id = await create_tenant(platform, "nokey")
    with pytest.raises(WebhookRejected, match="public_key"):
        await provider_for(platform, tenant_id).verify_webhook(
            signed(telnyx, document, int(time.time()))
        )


def test_the_tolerance_is_a_setting():
    double = TelnyxDouble()
    body = b'{"data": {}}'
    headers = {"telnyx-timestamp": "1000", "telnyx-signature-ed25519": double.sign(body, "1000")}
    verify_signature(headers, body, double.public_key, tolerance_seconds=60, now=1060)
    verify_signature(headers, body, double.public_key, tolerance_seconds=60, now=940)
    with pytest.raises(SignatureError, match="61 s off"):
        verify_signature(headers, body, double.public_key, tolerance_seconds=60, now=1061)
    with pytest.raises(SignatureError, match="61 s off"):
        verify_signature(headers, body, double.public_key, tolerance_seconds=60, now=939)


def test_a_stored_key_that_is_not_a_key_rejects(telnyx):
    body = b"{}"
    headers = {"telnyx-timestamp": "1000", "telnyx-signature-ed25519": telnyx.sign(body, "1000")}
    with pytest.raises(SignatureError, match=r"telnyx\.public_key is not 32 bytes"):
        verify_signature(headers, body, "c2hvcnQ=", tolerance_seconds=60, now=1000)


def test_only_the_events_webhook_exists(provider, telnyx, document):
    with pytest.raises(WebhookMalformed, match="'status'"):
        provider.parse_webhook(webhook(document, kind="status"))
    assert provider.parse_webhook(webhook(document)).dedupe_key == document["data"]["id"]
