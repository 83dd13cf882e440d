"""What a call leaves behind: recordings (audio relayed, deleted, retention), transcript
segments (each an event), disposition, notes and tags; listing with filters and cursors."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from kernel import tenant_scope, utcnow
from kernel.testing import outbox_events
from plugins.calls.models import CallSettingsRow, Recording
from plugins.calls.recordings import apply_retention
from plugins.calls.testing import fakeline_log


async def _recorded_call(place, send, recording: str = "RE1") -> dict:
    call = await place()
    sid = call["provider_call_id"]
    await send(
        [
            {"type": "progress", "call": sid, "status": "in-progress"},
            {"type": "recording", "call": sid, "recording": recording, "status": "in-progress"},
            {
                "type": "transcript",
                "call": sid,
                "text": "I want a refund",
                "speaker": "caller",
                "confidence": 0.91,
            },
            {
                "type": "recording",
                "call": sid,
                "recording": recording,
                "status": "completed",
                "duration": 42,
                "media": "https://media.provider.example/RE1",
            },
        ]
    )
    return call


async def test_recordings_and_transcript_on_the_call(client, place, send):
    call = await _recorded_call(place, send)
    detail = (await client.get(f"/api/v1/calls/{call['id']}")).json()
    [recording] = detail["recordings"]
    assert recording["status"] == "completed"
    assert recording["duration_seconds"] == 42
    assert "media" not in str(detail)  # the provider's URL never reaches clients
    [segment] = detail["transcript"]
    assert segment["text"] == "I want a refund"
    assert segment["speaker"] == "caller"
    assert segment["confidence"] == 0.91
    audio = await client.get(f"/api/v1/calls/{call['id']}/recordings/{recording['id']}/audio")
    assert audio.status_code == 200
    assert audio.headers["content-type"] == "audio/wav"
    assert audio.headers["cache-control"] == "private, no-store"
    assert audio.content == b"RIFFhttps://media.provider.example/RE1"  # relayed by the provider


async def test_recording_events_and_transcript_events(client, place, send, platform, tenant):
    call = await _recorded_call(place, send)
    rows = await outbox_events(platform, tenant)
    names = [r.name for r in rows if r.payload.get("call_id") == call["id"]]
    assert names[-4:] == [
        "calls.call.answered",
        "calls.call.recording-started",
        "calls.call.transcribed",
        "calls.call.recording-completed",
    ]
    transcribed = next(r for r in rows if r.name == "calls.call.transcribed")
    assert transcribed.payload["text"] == "I want a refund"
    assert transcribed.aggregate == f"calls.call:{call['id']}"  # ordered with the call


async def test_delete_and_retention(client, place, send, platform, tenant):
    call = await _recorded_call(place, send)
    url = f"/api/v1/calls/{call['id']}/recordings"
    [recording] = (await client.get(url)).json()
    assert (await client.delete(f"{url}/{recording['id']}")).status_code == 204
    assert fakeline_log(platform).deleted == ["RE1"]
    assert (await client.get(f"{url}/{recording['id']}/audio")).status_code == 404
    other = await _recorded_call(place, send, "RE2")
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            await session.execute(update(CallSettingsRow).values(recording_retention_days=30))
            await session.execute(
                update(Recording).values(completed_at=utcnow() - timedelta(days=31))
            )
            await session.commit()
        await apply_retention(platform)
    [kept] = (await client.get(f"/api/v1/calls/{other['id']}/recordings")).json()
    assert kept["status"] == "deleted"
    assert kept["deleted_at"] is not None
    assert fakeline_log(platform).deleted == ["RE1", "RE2"]


async def test_update_and_list_filters(client, place, send):
    first = await place(tags=["sales"])
    second = await place(to="+14155550142", tags=["support"])
    await send([{"type": "progress", "call": second["provider_call_id"], "status": "busy"}])
    patched = await client.patch(
        f"/api/v1/calls/{first['id']}",
        json={"disposition": "sale", "notes": "wants the blue one", "tags": ["sales", "won"]},
    )
    assert patched.status_code == 200
    assert patched.json()["disposition"] == "sale"
    assert patched.json()["tags"] == ["sales", "won"]
    bad_tag = await client.patch(f"/api/v1/calls/{first['id']}", json={"tags": ['a"b']})
    assert bad_tag.status_code == 422

    async def ids(**params) -> list[str]:
        page = (await client.get("/api/v1/calls", params=params)).json()
        return [c["id"] for c in page["items"]]

    assert await ids() == [second["id"], first["id"]]  # newest first
    assert await ids(tag="won") == [first["id"]]
    assert await ids(status="busy") == [second["id"]]
    assert await ids(number="+1 415 555 0142") == [second["id"]]
    assert await ids(direction="inbound") == []
    assert await ids(since=(utcnow() + timedelta(hours=1)).isoformat()) == []
    page = (await client.get("/api/v1/calls", params={"limit": 1})).json()
    assert [c["id"] for c in page["items"]] == [second["id"]]
    rest = (await client.get("/api/v1/calls", params={"cursor": page["next_cursor"]})).json()
    assert [c["id"] for c in rest["items"]] == [first["id"]]
    timeline = (await client.get(f"/api/v1/calls/{first['id']}")).json()["timeline"]
    assert any(e["kind"] == "updated" for e in timeline)


async def test_an_update_publishes_the_current_disposition_notes_and_tags(
    client, place, platform, tenant
):
    """A consumer (a contact's timeline) learns a call's outcome from its events alone."""
    call = await place(tags=["sales"])
    url = f"/api/v1/calls/{call['id']}"
    assert (await client.patch(url, json={"notes": "call back after 5"})).status_code == 200
    assert (await client.patch(url, json={"disposition": "callback"})).status_code == 200
    assert (await client.patch(url, json={"disposition": "callback"})).status_code == 200
    updates = [
        r.payload
        for r in await outbox_events(platform, tenant)
        if r.name == "calls.call.updated" and r.payload["call_id"] == call["id"]
    ]
    assert [(u["changed"], u["disposition"], u["notes"], u["tags"]) for u in updates] == [
        (["notes"], None, "call back after 5", ["sales"]),
        (["disposition"], "callback", "call back after 5", ["sales"]),
    ]  # the unchanged third update published nothing


def test_retention_cli_runs_for_every_tenant(operator_cli):
    unknown = operator_cli("calls", "retention", "--tenant", "nope")
    assert unknown.exit_code != 0
    assert "no tenant 'nope'" in unknown.output
    result = operator_cli("calls", "retention")
    assert result.exit_code == 0, result.output
    assert "acme: retention applied" in result.output
