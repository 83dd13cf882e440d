"""Recordings' audio (streamed from the provider with the tenant's credentials) and their
deletion: over the API, and by the tenant's retention period (a job)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from fastapi.responses import StreamingResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import DependencyError, Platform, ProblemError, utcnow
from plugins.calls import service
from plugins.calls.models import Recording, WebhookReceipt
from plugins.calls.problems import CAPABILITY_MISSING, PROVIDER_UNAVAILABLE, RECORDING_NOT_FOUND
from plugins.calls.provider import ProviderRefused, RecordingRef, UnsupportedAction
from plugins.calls.registry import build_provider, calls_state

logger = logging.getLogger(__name__)

RETENTION_BATCH = 200


def _ref(recording: Recording) -> RecordingRef:
    return RecordingRef(
        provider_recording_id=recording.provider_recording_id,
        provider_call_id=None,
        media_ref=recording.media_ref,
    )


async def stream_audio(
    platform: Platform,
    tenant_id: uuid.UUID,
    provider_name: str,
    call_id: uuid.UUID,
    ref: RecordingRef,
) -> StreamingResponse:
    """Relay the provider's media: the client never learns where it lives or how to get it."""
    provider = build_provider(platform, tenant_id, provider_name, call_id=call_id)
    try:
        audio = await provider.recording_audio(ref)
    except UnsupportedAction as exc:
        raise ProblemError(CAPABILITY_MISSING, str(exc), capability="recording") from None
    except ProviderRefused:
        raise ProblemError(RECORDING_NOT_FOUND, "the provider no longer has the audio") from None
    except DependencyError:
        raise ProblemError(PROVIDER_UNAVAILABLE, f"{provider_name} did not answer") from None
    headers = {"Cache-Control": "private, no-store"}
    if audio.size is not None:
        headers["Content-Length"] = str(audio.size)
    return StreamingResponse(audio.chunks, media_type=audio.content_type, headers=headers)


async def delete_recordings(
    platform: Platform, session: AsyncSession, recordings: Sequence[Recording], *, reason: str
) -> int:
    """Delete the media at the provider, then mark the rows deleted (kept as a trace); a
    recording whose provider does not answer is left for next time. Commits."""
    deleted = 0
    for recording in recordings:
        if await delete_recording(platform, session, recording, reason=reason):
            deleted += 1
    await session.commit()
    return deleted


async def delete_recording(
    platform: Platform,
    session: AsyncSession,
    recording: Recording,
    *,
    reason: str,
    strict: bool = False,
) -> bool:
    """Delete one recording's media at the provider, then mark its row deleted (with a
    timeline entry) in ``session``, not committed. False when it was deleted before, or its
    provider did not answer (the row is left as it was; ``strict``: that error is raised,
    for callers that must not go on without the media gone)."""
    if recording.deleted_at is not None:
        return False
    provider = build_provider(platform, recording.tenant_id, recording.provider)
    try:
        await provider.delete_recording(_ref(recording))
    except ProviderRefused:
        pass  # already gone there
    except DependencyError as exc:
        if strict:
            raise
        logger.warning("recording %s not deleted at %s: %s", recording.id, recording.provider, exc)
        return False
    recording.deleted_at = utcnow()
    recording.status = "deleted"
    recording.media_ref = None
    call = await service.get_call(session, recording.call_id)
    service.note(
        session,
        call,
        "recording",
        source="platform",
        recording_id=str(recording.id),
        recording_status="deleted",
        reason=reason,
    )
    return True


async def retention_job(platform: Platform, tenant_id: uuid.UUID) -> datetime:
    """Job ``calls.retention``: runs daily once woken (by a new call or a settings change)."""
    await apply_retention(platform)
    return utcnow() + timedelta(days=1)


async def apply_retention(platform: Platform) -> None:
    """Delete recordings older than the tenant's retention and webhook receipts older than
    the operator's (KRALIKI_CALLS_WEBHOOK_RETENTION_DAYS)."""
    async with platform.database.session() as session:
        settings = await service.call_settings(session)
        if settings.recording_retention_days:
            cutoff = utcnow() - timedelta(days=settings.recording_retention_days)
            due = list(
                await session.scalars(
                    select(Recording)
                    .where(Recording.completed_at < cutoff, Recording.deleted_at.is_(None))
                    .limit(RETENTION_BATCH)
                )
            )
            await delete_recordings(platform, session, due, reason="retention")
        keep_days = calls_state(platform).settings.webhook_retention_days
        old = await session.scalars(
            select(WebhookReceipt)
            .where(WebhookReceipt.received_at < utcnow() - timedelta(days=keep_days))
            .limit(RETENTION_BATCH * 5)
        )
        for receipt in old:
            await session.delete(receipt)
        await session.commit()
