"""Recording media streamed from Twilio with the tenant's credentials, and deleted there."""

from __future__ import annotations

import uuid

import pytest
from twilio_helpers import ACME_NUMBER, CALLEE, provider_for, store_credentials

from kernel import Platform, TransientError, tenant_scope
from kernel.testing import create_tenant
from plugins.calls import (
    PlaceCall,
    ProviderRefused,
    RecordingAudio,
    RecordingProgress,
    RecordingRef,
)
from plugins.twilio.testing import TwilioDouble

MEDIA = b"ID3" + bytes(range(256)) * 800  # about 200 KB: four chunks of 64 KiB


async def recorded(
    platform: Platform, tenant: uuid.UUID, double: TwilioDouble, receiver
) -> RecordingRef:
    """A call recorded from the start; the recording's completed callback was received."""
    with tenant_scope(tenant):
        request = PlaceCall(
            call_id=uuid.uuid4(), from_number=ACME_NUMBER, to_number=CALLEE, record=True
        )
        sid = (await provider_for(platform, tenant).place_call(request)).provider_call_id
    response = await double.send_recording(sid, "completed", duration=12, media=MEDIA)
    assert response.status_code == 200
    [(kind, parsed)] = receiver.parsed
    [progress] = parsed.events
    assert kind == "recording"
    assert isinstance(progress, RecordingProgress)
    double.state.requests.clear()
    return RecordingRef(progress.provider_recording_id, sid, progress.media_ref)


async def read(audio: RecordingAudio) -> tuple[bytes, int]:
    chunks = [chunk async for chunk in audio.chunks]
    return b"".join(chunks), len(chunks)


async def fetch(platform: Platform, tenant: uuid.UUID, ref: RecordingRef) -> RecordingAudio:
    with tenant_scope(tenant):
        return await provider_for(platform, tenant).recording_audio(ref)


async def test_the_media_is_streamed_with_the_accounts_credentials(
    platform, tenant, double, receiver
):
    ref = await recorded(platform, tenant, double, receiver)

    audio = await fetch(platform, tenant, ref)
    body, chunks = await read(audio)

    assert body == MEDIA
    assert chunks == 4
    assert (audio.content_type, audio.size) == ("audio/mpeg", len(MEDIA))
    [request] = double.requests
    assert request.method == "GET"
    assert request.path == (
        f"/2010-04-01/Accounts/{double.account_sid}/Recordings/{ref.provider_recording_id}.mp3"
    )
    assert request.auth == (double.account_sid, double.auth_token)


async def test_wav_when_the_operator_says_so(make_platform, double, receiver, monkeypatch):
    monkeypatch.setenv("KRALIKI_TWILIO_RECORDING_FORMAT", "wav")
    platform = await make_platform()
    tenant = await create_tenant(platform, "acme")
    await store_credentials(platform, tenant, double.account_sid, double.auth_token)
    ref = await recorded(platform, tenant, double, receiver)

    audio = await fetch(platform, tenant, ref)

    assert audio.content_type == "audio/x-wav"
    assert (await read(audio))[0] == MEDIA
    assert double.requests[0].path.endswith(".wav")


async def test_without_a_media_url_the_recordings_api_is_used(platform, tenant, double, receiver):
    ref = await recorded(platform, tenant, double, receiver)

    audio = await fetch(platform, tenant, RecordingRef(ref.provider_recording_id, None, None))

    assert (await read(audio))[0] == MEDIA


@pytest.mark.parametrize(
    "media_ref",
    [
        "https://evil.example.com/2010-04-01/Accounts/AC1/Recordings/RE1",
        "http://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
        "https://api.twilio.com.evil.example.com/Recordings/RE1",
    ],
)
async def test_credentials_go_to_twilio_only(platform, tenant, double, media_ref):
    with pytest.raises(ProviderRefused):
        await fetch(platform, tenant, RecordingRef("RE" + "0" * 32, None, media_ref))
    assert double.requests == []


async def test_a_missing_recording_is_refused(platform, tenant, double):
    with pytest.raises(ProviderRefused) as refused:
        await fetch(platform, tenant, RecordingRef("RE" + "0" * 32, None, None))
    assert refused.value.code == "404"


async def test_media_trouble_is_retried_then_transient(platform, tenant, double, receiver):
    ref = await recorded(platform, tenant, double, receiver)
    double.fail_next(2, 503)
    assert (await read(await fetch(platform, tenant, ref)))[0] == MEDIA

    double.fail_next(3, 503)
    with pytest.raises(TransientError):
        await fetch(platform, tenant, ref)


async def test_delete_removes_the_media_at_twilio(platform, tenant, double, receiver):
    ref = await recorded(platform, tenant, double, receiver)

    with tenant_scope(tenant):
        provider = provider_for(platform, tenant)
        await provider.delete_recording(ref)
        await provider.delete_recording(ref)  # already gone: nothing to do

    first, _again = double.to("DELETE", f"/Recordings/{ref.provider_recording_id}.json")
    assert first.auth == (double.account_sid, double.auth_token)
    assert double.recordings[ref.provider_recording_id].deleted
    with pytest.raises(ProviderRefused):
        await fetch(platform, tenant, ref)
