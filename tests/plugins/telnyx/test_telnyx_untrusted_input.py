"""Telnyx-signed JSON with numbers no column can hold: a transcription whose confidence is not
finite (``Infinity``, ``NaN``, ``1e999``, all of which Python's JSON reader accepts) is
refused with 400 and kept, never a 500; and an unsigned webhook with a timestamp that only
looks like digits is refused as unsigned. Served over HTTP, SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select
from telnyx_helpers import CALLEE, CALLER

from kernel import tenant_scope
from plugins.calls import TranscriptSegmentRow, WebhookReceipt
from plugins.telnyx.signature import TIMESTAMP_HEADER


async def _place(api) -> dict:
    body = {"to": CALLEE, "from": CALLER, "instructions": [{"kind": "say", "text": "Hi"}]}
    response = await api.post("/api/v1/calls", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _transcription(telnyx, control_id: str, confidence: bytes):
    """A signed ``call.transcription`` whose confidence is ``confidence`` as written."""
    document = telnyx.build_event(
        control_id,
        "call.transcription",
        transcription_data={"transcript": "hello", "confidence": 0.5, "is_final": True},
    )
    body = (
        json.dumps(document).encode().replace(b'"confidence": 0.5', b'"confidence": ' + confidence)
    )
    stamp = str(int(time.time()))
    url = telnyx.call(control_id).webhook_url
    return await telnyx.send_raw(url, body, timestamp=stamp, signature=telnyx.sign(body, stamp))


async def _stored(platform, tenant, model):
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            return list(await session.scalars(select(model)))


@pytest.mark.parametrize("confidence", [b"Infinity", b"NaN", b"1e999"])
async def test_a_non_finite_confidence_is_refused_and_kept(api, telnyx, platform, acme, confidence):
    control_id = (await _place(api))["provider_call_id"]
    sent = await _transcription(telnyx, control_id, confidence)
    assert sent.status == 400, sent.response
    assert json.loads(sent.response)["type"] == "/problems/calls-webhook-malformed"
    [rejected] = [
        r for r in await _stored(platform, acme, WebhookReceipt) if r.outcome == "rejected"
    ]
    data = rejected.payload["data"]["payload"]["transcription_data"]
    assert data["confidence"] in ("Infinity", "NaN")  # kept, readable
    assert await _stored(platform, acme, TranscriptSegmentRow) == []
    again = await telnyx.resend(sent)  # Telnyx's retry gets the same answer
    assert again.status == 400

    fine = await _transcription(telnyx, control_id, b"0.75")
    assert fine.status == 200
    [segment] = await _stored(platform, acme, TranscriptSegmentRow)
    assert (segment.text, segment.confidence) == ("hello", 0.75)


@pytest.mark.parametrize("timestamp", [b"\xb2\xb3", b"9" * 5000])  # "²³": str.isdigit() says yes
async def test_a_timestamp_that_only_looks_like_digits_is_unsigned(api, telnyx, acme, timestamp):
    control_id = (await _place(api))["provider_call_id"]
    body = json.dumps(telnyx.build_event(control_id, "call.answered")).encode()
    url = telnyx.call(control_id).webhook_url
    headers: dict = {TIMESTAMP_HEADER: timestamp}  # bytes: sent as they are
    sent = await telnyx.send_raw(url, body, signature=telnyx.sign(body, "0"), headers=headers)
    assert sent.status == 403, sent.response
