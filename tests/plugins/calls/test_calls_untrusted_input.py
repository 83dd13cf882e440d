"""Values no column can hold, from a client or from a signed provider webhook: never a 500,
never a lost webhook (SQLite and PostgreSQL alike).

Text (NUL, unpaired surrogates) in a webhook is kept as U+FFFD and the webhook is applied;
what cannot be normalised (a number beyond its column, an over-long provider id, a
non-finite number) is refused with 400 and the webhook is kept as ``rejected``, also when it
is delivered again. Client requests carrying them are refused by the kernel before any
route runs (422)."""

from __future__ import annotations

import json
import uuid

from calls_helpers import SECRET
from sqlalchemy import select

from kernel import tenant_scope
from plugins.calls.models import WebhookReceipt
from plugins.calls.testing import SIGNATURE_HEADER, sign


async def _receipts(platform, tenant) -> dict[str, WebhookReceipt]:
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            return {r.dedupe_key: r for r in await session.scalars(select(WebhookReceipt))}


async def _send_raw(client, tenant, body: bytes, kind: str = "status"):
    """A fakeline webhook whose body is sent exactly as given (signed as it is)."""
    return await client.post(
        f"/webhooks/fakeline/{tenant}/{kind}",
        content=body,
        headers={"content-type": "application/json", SIGNATURE_HEADER: sign(SECRET, body)},
    )


async def test_text_no_column_holds_is_kept_as_replacement_characters(
    place, send, client, platform, tenant
):
    call = await place()
    sid = call["provider_call_id"]
    said = [{"type": "transcript", "call": sid, "text": "hel\u0000lo \ud800", "confidence": 0.5}]
    response = await send(said, delivery_id="t-\u0000-1")
    assert response.status_code == 200, response.text
    receipt = (await _receipts(platform, tenant))["t-\ufffd-1"]
    assert receipt.outcome == "processed"
    assert receipt.payload["events"][0]["text"] == "hel\ufffdlo \ufffd"
    detail = (await client.get(f"/api/v1/calls/{call['id']}")).json()
    assert [s["text"] for s in detail["transcript"]] == ["hel\ufffdlo \ufffd"]


async def test_an_over_long_provider_call_id_is_refused_and_kept(send, client, platform, tenant):
    sid = "TL" + "x" * 200  # the column holds 128
    inbound = [
        {
            "type": "needs",
            "call": sid,
            "reason": "inbound",
            "direction": "inbound",
            "from": "+14155550111",
            "to": "+14155550100",
        }
    ]
    first = await send(inbound, kind="voice", delivery_id="long-1")
    assert first.status_code == 400, first.text
    assert first.json()["type"] == "/problems/calls-webhook-malformed"
    assert "provider_call_id" in first.json()["detail"]
    receipt = (await _receipts(platform, tenant))["long-1"]
    assert receipt.outcome == "rejected"
    assert "provider_call_id" in (receipt.error or "")
    assert receipt.payload["events"][0]["call"] == sid  # nothing of it is lost
    assert receipt.events["items"][0]["provider_call_id"] == sid
    again = await send(inbound, kind="voice", delivery_id="long-1")
    assert (again.status_code, again.json()["detail"]) == (400, first.json()["detail"])
    assert (await client.get("/api/v1/calls")).json()["items"] == []


async def test_a_number_beyond_its_column_is_refused_and_kept(
    place, send, client, platform, tenant
):
    call = await place()
    ended = [
        {
            "type": "progress",
            "call": call["provider_call_id"],
            "status": "completed",
            "duration": 2**31,
        }
    ]
    response = await send(ended, delivery_id="big-1")
    assert response.status_code == 400, response.text
    assert (await _receipts(platform, tenant))["big-1"].outcome == "rejected"
    detail = (await client.get(f"/api/v1/calls/{call['id']}")).json()
    assert detail["status"] != "completed"  # nothing of it was applied
    fine = await send([{**ended[0], "duration": 42}], delivery_id="big-2")
    assert fine.status_code == 200


async def test_a_non_finite_number_is_refused_and_kept_readable(place, client, platform, tenant):
    call = await place()
    event = {"type": "transcript", "call": call["provider_call_id"], "text": "hi"}
    for delivery, number in (("inf-1", b"1e999"), ("inf-2", b"NaN"), ("inf-3", b"-Infinity")):
        body = json.dumps({"id": delivery, "events": [event]}).encode()
        body = body.replace(b'"text": "hi"', b'"text": "hi", "confidence": ' + number)
        response = await _send_raw(client, tenant, body)
        assert response.status_code == 400, response.text
    receipts = await _receipts(platform, tenant)
    assert [receipts[d].outcome for d in ("inf-1", "inf-2", "inf-3")] == ["rejected"] * 3
    kept = [receipts[d].payload["events"][0]["confidence"] for d in ("inf-1", "inf-2", "inf-3")]
    assert kept == ["Infinity", "NaN", "-Infinity"]


async def test_unsigned_bad_values_learn_nothing_before_verification(client, tenant):
    body = b'{"id": "x\\u0000", "events": [{"type": "progress", "call": "\\ud800"}]}'
    response = await client.post(
        f"/webhooks/fakeline/{tenant}/status",
        content=body,
        headers={"content-type": "application/json", SIGNATURE_HEADER: "forged"},
    )
    assert response.status_code == 403
    assert response.json()["type"] == "/problems/calls-webhook-signature-invalid"


async def test_client_requests_with_such_values_are_refused_before_any_route(place, client):
    call = await place()
    bad = b'{"metadata": {"note": "\\ud800", "score": Infinity}}'
    response = await client.patch(
        f"/api/v1/calls/{call['id']}", content=bad, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    errors = {(tuple(e["loc"]), e["type"]) for e in response.json()["errors"]}
    assert errors == {
        (("body", "metadata", "note"), "lone_surrogate"),
        (("body", "metadata", "score"), "non_finite_number"),
    }
    placed = await client.post(
        "/api/v1/calls",
        json={"to": "+14155550100", "metadata": {"n": 2**64}},
    )
    assert placed.status_code == 422
    assert placed.json()["errors"][0]["type"] == "out_of_range"


async def test_ids_beyond_any_column_in_the_url_answer_4xx(client, tenant):
    for path in (f"/api/v1/calls/{uuid.uuid4()}%00", "/api/v1/calls?limit=2147483648"):
        response = await client.get(path)
        assert 400 <= response.status_code < 500, (path, response.text)
