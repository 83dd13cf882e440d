"""Recordings: the media is streamed with a fresh pre-signed link (never with the API key),
and deleted at Telnyx for retention."""

from __future__ import annotations

import uuid

import pytest
from telnyx_helpers import CALLEE, CALLER

from plugins.calls import PlaceCall, ProviderRefused, RecordingRef


@pytest.fixture
async def recorded(provider, telnyx):
    placed = await provider.place_call(
        PlaceCall(call_id=uuid.uuid4(), from_number=CALLER, to_number=CALLEE, record=True)
    )
    content = bytes(range(256)) * 800  # 200 KiB, several chunks
    return telnyx.add_recording(placed.provider_call_id, content)


async def read(audio) -> bytes:
    return b"".join([chunk async for chunk in audio.chunks])


async def test_the_audio_is_streamed_from_a_fresh_link(provider, telnyx, recorded):
    expired = telnyx.media_url(recorded, valid_for=-1)
    ref = RecordingRef(recorded.id, recorded.call_control_id, expired)
    audio = await provider.recording_audio(ref)
    assert (audio.content_type, audio.size) == ("audio/mpeg", len(recorded.content))
    chunks = [chunk async for chunk in audio.chunks]
    assert len(chunks) > 1
    assert b"".join(chunks) == recorded.content
    lookup, media = telnyx.requests[-2:]
    assert (lookup.method, lookup.path) == ("GET", f"/v2/recordings/{recorded.id}")
    assert lookup.headers["authorization"] == f"Bearer {telnyx.api_key}"
    assert media.path == f"/media/{recorded.id}.mp3"
    assert "authorization" not in media.headers  # storage refuses a second credential


async def test_a_recording_without_a_telnyx_id_is_read_from_its_link(provider, telnyx, recorded):
    ref = RecordingRef("leg:abc:2026", recorded.call_control_id, telnyx.media_url(recorded))
    before = len(telnyx.requests)
    assert await read(await provider.recording_audio(ref)) == recorded.content
    assert [r.path for r in telnyx.requests[before:]] == [f"/media/{recorded.id}.mp3"]


async def test_an_expired_link_without_an_id_is_refused(provider, telnyx, recorded):
    ref = RecordingRef("leg:abc:2026", None, telnyx.media_url(recorded, valid_for=-1))
    with pytest.raises(ProviderRefused, match="403") as caught:
        await provider.recording_audio(ref)
    assert caught.value.code == "media-refused"


async def test_media_trouble_is_retried(provider, telnyx, recorded):
    ref = RecordingRef("leg:abc:2026", None, telnyx.media_url(recorded))
    telnyx.fail_next(1, status=503)
    assert await read(await provider.recording_audio(ref)) == recorded.content


async def test_no_media_at_all(provider):
    with pytest.raises(ProviderRefused, match="no media"):
        await provider.recording_audio(RecordingRef("leg:x", None, None))


async def test_an_unknown_recording_is_refused(provider, telnyx):
    with pytest.raises(ProviderRefused) as caught:
        await provider.recording_audio(RecordingRef(str(uuid.uuid4()), None, None))
    assert caught.value.code == "10005"


async def test_delete_removes_it_at_telnyx_and_twice_is_fine(provider, telnyx, recorded):
    ref = RecordingRef(recorded.id, recorded.call_control_id, None)
    await provider.delete_recording(ref)
    assert recorded.deleted
    await provider.delete_recording(ref)
    deletes = [r for r in telnyx.requests if r.method == "DELETE"]
    assert [r.status for r in deletes] == [200, 404]
    with pytest.raises(ProviderRefused):
        await provider.recording_audio(ref)


async def test_a_recording_telnyx_never_named_is_not_deleted_there(provider, telnyx):
    await provider.delete_recording(RecordingRef("leg:abc:2026", None, "https://x.test/r.mp3"))
    assert telnyx.requests == []
