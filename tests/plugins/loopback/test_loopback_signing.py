"""Loopback's webhook signatures: made like a real carrier's, checked with the tenant's own
secret from the vault, refused when missing, forged, tampered with, stale or early."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest
from loopback_helpers import provider_for

from kernel import tenant_scope
from kernel.testing import vault_access_events
from plugins.calls import WebhookRejected, WebhookRequest
from plugins.loopback import signature as signing
from plugins.loopback.testing import tenant_secret

BODY = b'{"kind":"status","call_id":"LB00"}'


def request(headers: dict[str, str], body: bytes = BODY) -> WebhookRequest:
    return WebhookRequest(
        kind="status",
        method="POST",
        url="http://platform.test/webhooks/loopback/t/status",
        headers={k.lower(): v for k, v in headers.items()},
        body=body,
    )


def test_signature_is_hmac_sha256_of_id_timestamp_and_body():
    headers = signing.sign("s3cret", BODY, event_id="EV1", timestamp=1_700_000_000)
    expected = hmac.new(b"s3cret", b"EV1.1700000000." + BODY, hashlib.sha256).hexdigest()
    assert headers["Loopback-Signature"] == f"v1={expected}"
    assert headers["Loopback-Event-Id"] == "EV1"
    assert headers["Loopback-Timestamp"] == "1700000000"
    assert headers["Content-Type"] == "application/json"


def test_verify_accepts_a_fresh_authentic_delivery():
    headers = {k.lower(): v for k, v in signing.sign("s3cret", BODY, event_id="EV1").items()}
    assert signing.verify_signature("s3cret", headers, BODY, tolerance_seconds=300) == "EV1"


def test_one_matching_signature_of_several_is_enough():
    headers = {k.lower(): v for k, v in signing.sign("new", BODY, event_id="EV1").items()}
    headers["loopback-signature"] = "v1=" + "0" * 64 + " " + headers["loopback-signature"]
    assert signing.verify_signature("new", headers, BODY, tolerance_seconds=300) == "EV1"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda h, b: ({**h, "loopback-signature": "v1=" + "0" * 64}, b), "does not match"),
        (lambda h, b: ({**h, "loopback-signature": "v0=abc"}, b), "does not match"),
        (lambda h, b: ({**h, "loopback-signature": "v1=é"}, b), "does not match"),
        (lambda h, b: (h, b.replace(b"LB00", b"LB01")), "does not match"),
        (lambda h, b: ({**h, "loopback-event-id": "EV2"}, b), "does not match"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "loopback-signature"}, b), "missing"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "loopback-event-id"}, b), "missing"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "loopback-timestamp"}, b), "missing"),
        (lambda h, b: ({**h, "loopback-timestamp": "soon"}, b), "not unix seconds"),
        (lambda h, b: ({**h, "loopback-timestamp": "-5"}, b), "not unix seconds"),
    ],
    ids=[
        "forged",
        "other-scheme",
        "non-ascii",
        "tampered-body",
        "other-event-id",
        "no-signature",
        "no-event-id",
        "no-timestamp",
        "bad-timestamp",
        "negative-timestamp",
    ],
)
def test_verify_refuses(change, reason):
    headers = {k.lower(): v for k, v in signing.sign("s3cret", BODY, event_id="EV1").items()}
    headers, body = change(headers, BODY)
    with pytest.raises(signing.SignatureError, match=reason):
        signing.verify_signature("s3cret", headers, body, tolerance_seconds=300)


@pytest.mark.parametrize("offset", [-301, 301], ids=["stale", "future"])
def test_verify_refuses_timestamps_outside_the_tolerance(offset):
    now = time.time()
    stamp = int(now) + offset
    headers = signing.sign("s3cret", BODY, event_id="EV1", timestamp=stamp)
    lowered = {k.lower(): v for k, v in headers.items()}
    with pytest.raises(signing.SignatureError, match="tolerance 300"):
        signing.verify_signature("s3cret", lowered, BODY, tolerance_seconds=300, now=now)
    # Just inside the tolerance it passes.
    inside = signing.sign("s3cret", BODY, event_id="EV1", timestamp=int(now) + offset // 2)
    lowered = {k.lower(): v for k, v in inside.items()}
    assert (
        signing.verify_signature("s3cret", lowered, BODY, tolerance_seconds=300, now=now) == "EV1"
    )


async def test_secret_is_generated_once_per_tenant_and_kept_in_the_vault(
    platform, tenant, other_tenant
):
    first = await tenant_secret(platform, tenant)
    assert first == await tenant_secret(platform, tenant)
    assert len(first) >= 40
    assert first != await tenant_secret(platform, other_tenant)
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            row = await platform.vault.get(session, "loopback.signing.default")
    assert row is not None
    assert row.plugin == "loopback"
    assert row.kind == "signing_key"


async def test_the_provider_verifies_with_the_tenant_secret(platform, tenant, other_tenant):
    secret = await tenant_secret(platform, tenant)
    theirs = await tenant_secret(platform, other_tenant)
    provider = provider_for(platform, tenant)
    good = signing.sign(secret, BODY, event_id="EV1")
    await provider.verify_webhook(request(good))
    with pytest.raises(WebhookRejected, match="does not match"):
        await provider.verify_webhook(request(signing.sign(theirs, BODY, event_id="EV1")))
    with pytest.raises(WebhookRejected, match="does not match"):
        await provider.verify_webhook(request(good, BODY + b" "))
    stale = signing.sign(secret, BODY, event_id="EV1", timestamp=int(time.time()) - 3600)
    with pytest.raises(WebhookRejected, match="off"):
        await provider.verify_webhook(request(stale))
    early = signing.sign(secret, BODY, event_id="EV1", timestamp=int(time.time()) + 3600)
    with pytest.raises(WebhookRejected, match="off"):
        await provider.verify_webhook(request(early))
    with pytest.raises(WebhookRejected, match="missing"):
        await provider.verify_webhook(request({}))


async def test_a_tenant_without_a_secret_accepts_nothing(platform, tenant):
    provider = provider_for(platform, tenant)
    with pytest.raises(WebhookRejected, match="no loopback signing secret"):
        await provider.verify_webhook(request(signing.sign("guess", BODY, event_id="EV1")))


async def test_every_check_reads_the_secret_through_the_audited_vault(platform, tenant):
    secret = await tenant_secret(platform, tenant)
    provider = provider_for(platform, tenant)
    await provider.verify_webhook(request(signing.sign(secret, BODY, event_id="EV1")))
    with pytest.raises(WebhookRejected):  # junk is refused before the vault is asked
        await provider.verify_webhook(request({"loopback-event-id": "EV1"}))
    purposes = [access.purpose for access in await vault_access_events(platform, tenant)]
    assert purposes.count("verify a loopback webhook") == 1
    assert all(p.startswith(("verify", "sign")) for p in purposes)
