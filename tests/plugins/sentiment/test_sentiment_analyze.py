"""``analyzeCall`` on demand, redelivered events, a failing model: the call's figures are
those of its transcript, once, whatever happens to the scoring."""

from __future__ import annotations

import uuid

import httpx
from sentiment_helpers import ANGRY, HAPPY, finished_call, scored, updates

from kernel import tenant_scope
from kernel.testing import wait_until
from plugins.sentiment import plugin as sentiment_plugin
from plugins.sentiment import scoring


def api(calls) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=calls.url, headers=calls.headers, timeout=30)


async def test_analyze_rescores_a_finished_call_idempotently(loopback_calls):
    calls = loopback_calls
    call = await finished_call(calls, HAPPY, ANGRY)
    await scored(calls, call["id"], 2)
    async with api(calls) as client:
        before = (await client.get(f"/api/v1/sentiment/calls/{call['id']}")).json()
        published = len(updates(calls.delivered, call["id"]))
        for _ in range(2):
            again = await client.post(f"/api/v1/sentiment/calls/{call['id']}/analyze")
            assert again.status_code == 200, again.text
            assert again.json() == before  # the same transcript, the same figures
        # Nothing changed: nothing more published.
        assert len(updates(calls.delivered, call["id"])) == published


async def test_analyze_a_call_without_transcript_or_unknown(loopback_calls):
    calls = loopback_calls
    busy = await finished_call(calls, outcome="busy")
    async with api(calls) as client:
        none = await client.post(f"/api/v1/sentiment/calls/{busy['id']}/analyze")
        assert none.status_code == 409, none.text
        assert none.json()["type"].endswith("/sentiment-no-transcript")
        unknown = await client.post(f"/api/v1/sentiment/calls/{uuid.uuid4()}/analyze")
        assert unknown.status_code == 404
        assert unknown.json()["type"].endswith("/sentiment-call-not-found")
        nothing = await client.get(f"/api/v1/sentiment/calls/{busy['id']}")
        assert nothing.status_code == 404


async def test_a_redelivered_batch_is_not_counted_twice(loopback_calls):
    calls = loopback_calls
    call = await finished_call(calls, HAPPY, ANGRY)
    await scored(calls, call["id"], 2)
    segments = transcribed(calls, call["id"])
    assert len(segments) == 2
    published = len(updates(calls.delivered, call["id"]))
    with tenant_scope(calls.tenant_id):  # at-least-once: the dispatcher delivers again
        await sentiment_plugin.kraliki_events(calls.platform, [*segments, *segments])
        await sentiment_plugin.kraliki_events(calls.platform, segments[1:])
    async with api(calls) as client:
        body = (await client.get(f"/api/v1/sentiment/calls/{call['id']}")).json()
    assert body["overall"]["segments"] == 2
    assert len(body["points"]) == 2
    assert body["counts"] == {"positive": 1, "neutral": 0, "negative": 1}
    assert len(updates(calls.delivered, call["id"])) == published


async def test_a_failing_model_never_breaks_the_call(loopback_calls, monkeypatch):
    """The gateway raising (a provider down with no fallback) leaves the segment unscored;
    the call and its transcript go on; analysing later scores it."""
    calls = loopback_calls
    working = scoring.complete

    async def down(*args, **kwargs):
        raise RuntimeError("the model is down")

    monkeypatch.setattr(scoring, "complete", down)
    call = await finished_call(calls, HAPPY, ANGRY)
    assert call["status"] == "completed"
    assert call["hangup_cause"] != "application_error"
    assert [s["text"] for s in call["transcript"]] == [HAPPY, ANGRY]
    # Both segments reached the plugins (the batch hook runs before the recorder sees them).
    await wait_until(lambda: len(transcribed(calls, call["id"])) == 2, within=20)
    async with api(calls) as client:
        nothing = await client.get(f"/api/v1/sentiment/calls/{call['id']}")
        assert nothing.status_code == 404
        failed = await client.post(f"/api/v1/sentiment/calls/{call['id']}/analyze")
        assert failed.status_code == 503, failed.text
        assert failed.json()["type"].endswith("/sentiment-model-failed")
        monkeypatch.setattr(scoring, "complete", working)  # the model is back
        analysed = await client.post(f"/api/v1/sentiment/calls/{call['id']}/analyze")
        assert analysed.status_code == 200, analysed.text
        assert analysed.json()["counts"] == {"positive": 1, "neutral": 0, "negative": 1}
    await scored(calls, call["id"], 2)  # published by the analysis
    assert len(updates(calls.delivered, call["id"])) == 1


def transcribed(calls, call_id: str) -> list:
    return [
        e
        for e in calls.delivered
        if e.name == "calls.call.transcribed" and e.payload["call_id"] == call_id
    ]
