"""Loopback through the platform, over real HTTP: calls placed with ``POST /api/v1/calls``,
the carrier's signed webhooks taken by the calls plugin's ingest, the status machine, the
timeline and events; crafted deliveries that are repeated, late, forged or stale."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from kernel import Tenant, tenant_scope
from kernel.testing import serve_app
from plugins.calls import PERMISSIONS, CallStatus, WebhookReceipt
from plugins.calls.testing import call_events, use_public_base_url
from plugins.loopback.testing import live_call, send_signed, status_body, tenant_secret

ALL = tuple(p.key for p in PERMISSIONS)
ON_THE_LINE = ["answer", {"step": "wait", "seconds": 3000}, "hangup"]
TERMINAL = {s.value for s in CallStatus if s.terminal}


@pytest.fixture
async def platform_url(app, platform) -> AsyncIterator[str]:
    """The platform itself, served; providers are told to call it back there."""
    async with serve_app(app) as url:
        use_public_base_url(platform, url)
        yield url


@pytest.fixture
async def api(app, platform_url, tenant, kraliki_authenticate) -> AsyncIterator[httpx.AsyncClient]:
    kraliki_authenticate(app, *ALL, kind="user", tenant_id=tenant)
    async with httpx.AsyncClient(base_url=platform_url, timeout=30) as client:
        yield client


async def place(api: httpx.AsyncClient, to: str = "+14155550123", **body: Any) -> dict:
    body.setdefault("from", "+14155550100")
    response = await api.post("/api/v1/calls", json={"to": to, **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def detail(api: httpx.AsyncClient, call_id: str) -> dict:
    response = await api.get(f"/api/v1/calls/{call_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def until(api: httpx.AsyncClient, call_id: str, *statuses: str, within: float = 30) -> dict:
    """The call once it reached one of ``statuses`` (default: any final one)."""
    wanted = set(statuses) or TERMINAL
    async with asyncio.timeout(within):
        # Polling the API: nothing signals.
        while (found := await detail(api, call_id))["status"] not in wanted:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    return found


def statuses(call: dict) -> list[str]:
    return [e["status"] for e in call["timeline"] if e["kind"] == "status"]


def ignored(call: dict) -> list[str]:
    return [e["detail"]["reason"] for e in call["timeline"] if e["kind"] == "ignored"]


async def event_names(platform, tenant_id, call_id) -> list[str]:
    return [name for name, _ in await call_events(platform, tenant_id, call_id)]


async def receipts(platform, tenant_id) -> list[WebhookReceipt]:
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            rows = await session.scalars(
                select(WebhookReceipt).order_by(WebhookReceipt.received_at)
            )
            return list(rows)


async def test_a_call_is_placed_answered_and_completed(api, platform, tenant):
    call = await place(api)
    assert call["provider"] == "loopback"
    assert call["provider_call_id"].startswith("LB")
    assert call["status"] in ("initiated", "ringing")
    done = await until(api, call["id"])
    assert done["status"] == "completed"
    assert done["hangup_cause"] == "callee_hangup"
    assert done["duration_seconds"] == 10  # the default talk time (simulated)
    assert done["ringing_at"]
    assert done["answered_at"]
    assert done["ended_at"]
    assert statuses(done) == ["initiated", "ringing", "in-progress", "completed"]
    assert await event_names(platform, tenant, call["id"]) == [
        "calls.call.created",
        "calls.call.initiated",
        "calls.call.ringing",
        "calls.call.answered",
        "calls.call.completed",
    ]
    kept = await receipts(platform, tenant)
    assert [r.kind for r in kept] == ["status", "status", "status", "voice", "status"]
    assert {r.outcome for r in kept} == {"processed"}
    voice = next(r for r in kept if r.kind == "voice")
    assert voice.answer_type == "application/json"
    assert '"kind":"pause"' in voice.answer_body  # the platform's default: stay on the line


@pytest.mark.parametrize(
    ("to", "status", "cause"),
    [
        ("+14155550001", "busy", "user_busy"),
        ("+14155550002", "no-answer", "no_answer"),
        ("+14155550003", "failed", "unallocated_number"),
    ],
    ids=["busy", "no-answer", "failed"],
)
async def test_calls_that_are_not_answered(api, to, status, cause):
    call = await place(api, to, timeout_seconds=5)
    done = await until(api, call["id"])
    assert (done["status"], done["hangup_cause"]) == (status, cause)
    assert done["answered_at"] is None
    assert done["duration_seconds"] == 0


async def test_instructions_from_the_request_run_and_gather_digits(api):
    instructions = [
        {"kind": "say", "text": "Welcome"},
        {"kind": "gather", "num_digits": 4, "prompt": [{"kind": "say", "text": "Your PIN"}]},
    ]
    script = ["answer", {"step": "press", "digits": "1234"}, {"step": "wait", "seconds": 60}]
    call = await place(api, instructions=instructions, options={"script": script})
    done = await until(api, call["id"])
    [digits] = [e for e in done["timeline"] if e["kind"] == "input"]
    assert digits["detail"]["digits_count"] == 4
    # Nothing more to run after the digits (no IVR yet): the platform's side hangs up.
    assert done["hangup_cause"] == "caller_hangup"


async def test_a_gather_hears_the_callee_speak(api):
    instructions = [
        {
            "kind": "gather",
            "dtmf": False,
            "speech": True,
            "hints": ["order"],
            "prompt": [{"kind": "say", "text": "What is it about?"}],
        },
    ]
    script = [
        "answer",
        {"step": "wait", "seconds": 1},  # the gather opens once the voice webhook answers
        {"step": "say", "text": "My order please"},
        {"step": "wait", "seconds": 60},
    ]
    call = await place(api, instructions=instructions, options={"script": script})
    done = await until(api, call["id"])
    [said] = [e for e in done["timeline"] if e["kind"] == "input"]
    assert said["detail"] == {"digits_count": 0, "speech": True}
    [segment] = done["transcript"]
    assert segment["text"] == "My order please"
    assert done["hangup_cause"] == "caller_hangup"


@pytest.mark.parametrize(
    ("to", "status", "duration"),
    [("+14155550002", "no-answer", 5), ("+14155550123", "completed", 12)],
    ids=["no-answer", "answered"],
)
async def test_a_dial_that_reports_its_outcome_reaches_the_timeline(
    api, platform, tenant, to, status, duration
):
    instructions = [
        {"kind": "dial", "number": to, "timeout_seconds": 5, "report_outcome": True},
        {"kind": "say", "text": "never reached"},
    ]
    call = await place(api, instructions=instructions, options={"script": ON_THE_LINE})
    done = await until(api, call["id"])
    [dialed] = [e for e in done["timeline"] if e["kind"] == "dialed"]
    assert (dialed["source"], dialed["status"]) == ("provider", status)
    # No handler listens to the call: the platform adds nothing and its side hangs up.
    assert (done["status"], done["hangup_cause"]) == ("completed", "caller_hangup")
    assert done["duration_seconds"] == duration
    kept = await receipts(platform, tenant)
    assert [r.kind for r in kept][-2:] == ["dial", "status"]
    assert {r.outcome for r in kept} == {"processed"}


async def test_a_recorded_call_with_callee_speech(api):
    call = await place(api, "+14155550006", record=True)
    done = await until(api, call["id"])
    [segment] = done["transcript"]
    assert segment["speaker"] == "callee"
    assert "talk to someone" in segment["text"]
    [recording] = done["recordings"]
    assert recording["status"] == "completed"
    assert recording["duration_seconds"] == done["duration_seconds"] == 14  # 4 s said, 10 s on
    audio = await api.get(f"/api/v1/calls/{call['id']}/recordings/{recording['id']}/audio")
    assert audio.status_code == 200, audio.text
    assert audio.headers["content-type"].startswith("audio/wav")
    assert audio.content[:4] == b"RIFF"
    assert len(audio.content) == 44 + 14 * 8000 * 2 * 2


async def test_control_over_the_api(api, platform):
    call = await place(api, options={"script": ON_THE_LINE})
    await until(api, call["id"], "in-progress")
    sid = call["provider_call_id"]
    for path in ("hold", "mute", "dtmf", "unmute", "unhold", "recording/start"):
        body = {"digits": "12#"} if path == "dtmf" else None
        response = await api.post(f"/api/v1/calls/{call['id']}/{path}", json=body)
        assert response.status_code == 200, response.text
    carried = live_call(platform, sid)
    assert [entry[0] for entry in carried.log] == ["hold", "mute", "dtmf", "unmute", "unhold"]
    hung_up = await api.post(f"/api/v1/calls/{call['id']}/hangup")
    assert hung_up.status_code == 200, hung_up.text
    done = await until(api, call["id"])
    assert (done["status"], done["hangup_cause"]) == ("completed", "caller_hangup")
    [recording] = done["recordings"]
    assert recording["status"] == "completed"


async def test_hanging_up_a_ringing_call_cancels_it(api):
    script = [{"step": "ring", "seconds": 600}, "answer"]
    call = await place(api, timeout_seconds=120, options={"script": script})
    await until(api, call["id"], "ringing")
    assert (await api.post(f"/api/v1/calls/{call['id']}/hangup")).status_code == 200
    done = await until(api, call["id"])
    assert (done["status"], done["hangup_cause"]) == ("canceled", "originator_cancel")


async def test_a_bad_script_is_refused_with_the_reason(api):
    response = await api.post(
        "/api/v1/calls",
        json={"to": "+14155550123", "from": "+14155550100", "options": {"script": ["ring"]}},
    )
    assert response.status_code == 422, response.text
    assert "needs one of answer" in response.json()["detail"]


async def test_repeated_and_late_deliveries_change_nothing(api, platform, tenant, platform_url):
    secret = await tenant_secret(platform, tenant)
    call = await place(api, options={"script": ON_THE_LINE})
    await until(api, call["id"], "in-progress")
    sid = call["provider_call_id"]
    late = status_body(sid, CallStatus.RINGING, sequence=2)
    first = await send_signed(platform_url, tenant, "status", late, secret, event_id="EVlate")
    again = await send_signed(platform_url, tenant, "status", late, secret, event_id="EVlate")
    assert (first.status_code, again.status_code) == (200, 200)
    now = await detail(api, call["id"])
    assert now["status"] == "in-progress"
    assert ignored(now).count("out-of-order") == 1  # the redelivery was recognised
    await api.post(f"/api/v1/calls/{call['id']}/hangup")
    await until(api, call["id"])
    after = status_body(sid, CallStatus.IN_PROGRESS, sequence=3)
    response = await send_signed(platform_url, tenant, "status", after, secret)
    assert response.status_code == 200
    done = await detail(api, call["id"])
    assert done["status"] == "completed"
    assert "after-end" in ignored(done)


async def test_forged_stale_and_foreign_deliveries_are_refused(
    api, platform, tenant, other_tenant, platform_url
):
    secret = await tenant_secret(platform, tenant)
    theirs = await tenant_secret(platform, other_tenant)
    call = await place(api, options={"script": ON_THE_LINE})
    await until(api, call["id"], "in-progress")
    sid = call["provider_call_id"]
    ending = status_body(sid, CallStatus.COMPLETED, sequence=9, hangup_cause="forged")
    before = len(await receipts(platform, tenant))
    attempts = {
        "forged": await send_signed(platform_url, tenant, "status", ending, "guessed"),
        "other tenant's secret": await send_signed(platform_url, tenant, "status", ending, theirs),
        "stale": await send_signed(
            platform_url, tenant, "status", ending, secret, timestamp=int(time.time()) - 3600
        ),
        "future": await send_signed(
            platform_url, tenant, "status", ending, secret, timestamp=int(time.time()) + 3600
        ),
        "tampered": await send_signed(
            platform_url, tenant, "status", ending, secret, signature="v1=" + "ab" * 32
        ),
    }
    for name, response in attempts.items():
        assert response.status_code == 403, name
        assert response.json()["type"] == "/problems/calls-webhook-signature-invalid", name
    async with httpx.AsyncClient() as client:
        unsigned = await client.post(
            f"{platform_url}/webhooks/loopback/{tenant}/status", content=b"{}"
        )
    assert unsigned.status_code == 403
    assert (await detail(api, call["id"]))["status"] == "in-progress"
    assert len(await receipts(platform, tenant)) == before
    # Authentic, but a status report replayed to another kind of webhook: 400.
    replayed = await send_signed(platform_url, tenant, "gather", ending, secret)
    assert replayed.status_code == 400
    assert replayed.json()["type"] == "/problems/calls-webhook-malformed"
    # Tenant B's own URL with its own secret reaches tenant B, where the call does not exist.
    orphan = await send_signed(platform_url, other_tenant, "status", ending, theirs)
    assert orphan.status_code == 200
    assert [r.outcome for r in await receipts(platform, other_tenant)] == ["orphan"]
    assert (await detail(api, call["id"]))["status"] == "in-progress"
    await api.post(f"/api/v1/calls/{call['id']}/hangup")


async def test_a_tenant_that_disabled_loopback_gets_404(platform, tenant, platform_url):
    secret = await tenant_secret(platform, tenant)
    async with platform.database.session() as session:
        await session.execute(
            update(Tenant).where(Tenant.id == tenant).values(disabled_plugins=["loopback"])
        )
        await session.commit()
    body = status_body("LB" + uuid.uuid4().hex, CallStatus.RINGING, sequence=1)
    response = await send_signed(platform_url, tenant, "status", body, secret)
    assert response.status_code == 404
