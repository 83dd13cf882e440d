"""Call state changes, each with its timeline entry and its event, in the caller's transaction.

No HTTP here: the API routes and the webhook ingest both come through these functions, so a
call changes the same way whether an agent or a provider moved it.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from opentelemetry import trace
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, ProblemError, utcnow
from plugins.calls import events
from plugins.calls.models import (
    DEFAULT_MAX_CONCURRENT_CALLS,
    Call,
    CallEvent,
    CallSettingsRow,
    Recording,
    TranscriptSegmentRow,
)
from plugins.calls.problems import CALL_NOT_FOUND
from plugins.calls.provider import (
    AnsweredBy,
    CallProgress,
    CallRef,
    CallStatus,
    Direction,
    MachineDetected,
    RecordingProgress,
    TranscriptSegment,
)
from plugins.calls.registry import calls_state
from plugins.calls.stale import heard_recently
from plugins.calls.status import ACTIVE_STATUSES, Verdict, judge

CALL_ID = "call.id"
"""Span attribute naming the call a request or webhook is about."""

STATUS_EVENTS: dict[CallStatus, type[events.CallEvent]] = {
    CallStatus.QUEUED: events.CallCreated,
    CallStatus.INITIATED: events.CallInitiated,
    CallStatus.RINGING: events.CallRinging,
    CallStatus.IN_PROGRESS: events.CallAnswered,
    CallStatus.COMPLETED: events.CallCompleted,
    CallStatus.BUSY: events.CallBusy,
    CallStatus.NO_ANSWER: events.CallNoAnswer,
    CallStatus.FAILED: events.CallFailed,
    CallStatus.CANCELED: events.CallCanceled,
}
RECORDING_EVENTS: dict[str, type[events.RecordingEvent]] = {
    "in-progress": events.RecordingStarted,
    "paused": events.RecordingPaused,
    "resumed": events.RecordingResumed,
    "completed": events.RecordingCompleted,
}


def call_ref(call: Call) -> CallRef:
    return CallRef(
        id=call.id,
        provider_call_id=call.provider_call_id,
        direction=Direction(call.direction),
        status=CallStatus(call.status),
        from_number=call.from_number,
        to_number=call.to_number,
    )


def event_fields(call: Call) -> dict[str, Any]:
    return {
        "call_id": call.id,
        "status": call.status,
        "direction": call.direction,
        "from_number": call.from_number,
        "to_number": call.to_number,
        "provider": call.provider,
        "provider_call_id": call.provider_call_id,
    }


async def publish(
    platform: Platform,
    session: AsyncSession,
    event_type: type[events.CallEvent],
    call: Call,
    **extra: Any,
) -> None:
    await platform.events.publish(session, event_type(**event_fields(call), **extra))


def note(
    session: AsyncSession,
    call: Call,
    kind: str,
    *,
    source: str,
    status: str | None = None,
    occurred_at: datetime | None = None,
    **detail: Any,
) -> None:
    """Add an entry to the call's timeline."""
    session.add(
        CallEvent(
            call_id=call.id,
            kind=kind,
            source=source,
            status=status,
            occurred_at=occurred_at,
            detail={key: value for key, value in detail.items() if value is not None},
        )
    )


def traced(call: Call) -> Call:
    """Put the call's id on the current span (the request's or the webhook's)."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute(CALL_ID, str(call.id))
    return call


async def get_call(session: AsyncSession, call_id: uuid.UUID, *, for_update: bool = False) -> Call:
    query = select(Call).where(Call.id == call_id)
    if for_update:
        query = query.with_for_update()
    call = await session.scalar(query)
    if call is None:
        raise ProblemError(CALL_NOT_FOUND)
    return traced(call)


async def find_call(
    session: AsyncSession, provider: str, provider_call_id: str, *, hint: uuid.UUID | None
) -> Call | None:
    """The call a provider reports about: by its id at the provider, else by the platform's
    id carried in the webhook URL (the provider's first callbacks can beat its answer to
    "place the call"), which then binds the provider's id to the call."""
    call = await session.scalar(
        select(Call)
        .where(Call.provider == provider, Call.provider_call_id == provider_call_id)
        .with_for_update()
    )
    if call is not None:
        return heard(call)
    if hint is None:
        return None
    call = await session.scalar(select(Call).where(Call.id == hint).with_for_update())
    if call is None or call.provider != provider:
        return None
    if call.provider_call_id is None:
        call.provider_call_id = provider_call_id
        return heard(call)
    return heard(call) if call.provider_call_id == provider_call_id else None


def heard(call: Call) -> Call:
    """The provider spoke of the call: it is not stale (``plugins.calls.stale``)."""
    call.heard_at = utcnow()
    return traced(call)


async def schedule_upkeep(platform: Platform, session: AsyncSession) -> None:
    """Make sure the tenant's upkeep jobs are scheduled when a call is created: the daily
    retention, and reconciliation when the call could first go stale (both reschedule
    themselves while there is work)."""
    now = utcnow()
    settings = calls_state(platform).settings
    first_stale = min(settings.stale_after(status) for status in ACTIVE_STATUSES)
    await platform.jobs.wake(session, "calls.retention", at=now + timedelta(days=1))
    await platform.jobs.wake(session, "calls.reconcile", at=now + first_stale)


async def call_settings(session: AsyncSession) -> CallSettingsRow:
    """The tenant's call settings (defaults when it never changed them; not added)."""
    row: CallSettingsRow | None = await session.scalar(select(CallSettingsRow))
    if row is not None:
        return row
    return CallSettingsRow(
        primary_provider=None,
        secondary_provider=None,
        max_concurrent_calls=DEFAULT_MAX_CONCURRENT_CALLS,
        calls_per_second={},
        recording_retention_days=None,
        recording_consent_message=None,
    )


async def active_calls(platform: Platform, session: AsyncSession) -> int:
    """Calls that count toward the concurrent-call limit: not final and not stale (a call
    left unended by a crash stops holding a slot once stale, before it is reconciled)."""
    settings = calls_state(platform).settings
    return int(
        await session.scalar(
            select(func.count()).select_from(Call).where(heard_recently(settings, utcnow()))
        )
        or 0
    )


async def apply_progress(
    platform: Platform,
    session: AsyncSession,
    call: Call,
    progress: CallProgress,
    *,
    source: str = "provider",
    reason: str | None = None,
) -> Verdict:
    """Move the call forward if the report does; otherwise record why it was ignored.

    Details a late report carries (an answer time, who answered) still fill fields that are
    empty: a ringing report arriving after completion tells when it rang. ``reason`` says
    why the platform ended the call itself (``CallEnded.reason``), when it did.
    """
    current = CallStatus(call.status)
    verdict = judge(current, progress.status)
    call.heard_at = utcnow()
    at = progress.occurred_at or utcnow()
    if progress.sequence is not None:
        call.last_sequence = max(call.last_sequence or 0, progress.sequence)
    _fill_details(call, progress, at)
    if verdict is not Verdict.ADVANCE:
        note(
            session,
            call,
            "ignored",
            source=source,
            status=progress.status.value,
            occurred_at=progress.occurred_at,
            reason=verdict.value,
            current=current.value,
            sequence=progress.sequence,
        )
        return verdict
    call.status = progress.status.value
    if progress.status is CallStatus.RINGING:
        call.ringing_at = call.ringing_at or at
    elif progress.status is CallStatus.IN_PROGRESS:
        call.answered_at = call.answered_at or at
    elif progress.status.terminal:
        _end(call, progress, at)
    note(
        session,
        call,
        "status",
        source=source,
        status=call.status,
        occurred_at=progress.occurred_at,
        previous=current.value,
        sequence=progress.sequence,
        answered_by=progress.answered_by.value if progress.answered_by else None,
        hangup_cause=progress.hangup_cause,
        duration_seconds=call.duration_seconds if progress.status.terminal else None,
        reason=reason,
    )
    extra: dict[str, Any] = {}
    if progress.status is CallStatus.IN_PROGRESS:
        extra["answered_by"] = call.answered_by
    elif progress.status.terminal:
        extra = {
            "hangup_cause": call.hangup_cause,
            "duration_seconds": call.duration_seconds,
            "reason": reason,
        }
    await publish(platform, session, STATUS_EVENTS[progress.status], call, **extra)
    return verdict


def _fill_details(call: Call, progress: CallProgress, at: datetime) -> None:
    if progress.answered_by is not None and (
        call.answered_by is None or call.answered_by == AnsweredBy.UNKNOWN.value
    ):
        call.answered_by = progress.answered_by.value
    if progress.status is CallStatus.RINGING and call.ringing_at is None:
        call.ringing_at = at
    if progress.status is CallStatus.IN_PROGRESS and call.answered_at is None:
        call.answered_at = at


def _end(call: Call, progress: CallProgress, at: datetime) -> None:
    call.ended_at = at
    call.hangup_cause = progress.hangup_cause or call.hangup_cause
    call.on_hold = False
    call.muted = False
    call.recording = None
    if progress.duration_seconds is not None:
        call.duration_seconds = progress.duration_seconds
    elif call.answered_at is not None:
        call.duration_seconds = max(0, int((at - call.answered_at).total_seconds()))
    else:
        call.duration_seconds = 0


async def apply_detection(
    platform: Platform, session: AsyncSession, call: Call, verdict: MachineDetected
) -> None:
    """Keep asynchronous detection's verdict on the call and publish it. A verdict replaces
    an earlier one unless it is ``unknown``; the end of a machine's greeting is published
    as its own event (a message can be left now). Kept and published even when the call
    has ended meanwhile: it says who answered."""
    if verdict.answered_by is not AnsweredBy.UNKNOWN or call.answered_by is None:
        call.answered_by = verdict.answered_by.value
    call.heard_at = utcnow()
    note(
        session,
        call,
        "machine-detected",
        source="provider",
        occurred_at=verdict.occurred_at,
        answered_by=verdict.answered_by.value,
        greeting_ended=verdict.greeting_ended or None,
        beep=verdict.beep,
        detection_ms=verdict.detection_ms,
    )
    await publish(
        platform,
        session,
        events.CallMachineDetected,
        call,
        answered_by=verdict.answered_by.value,
        greeting_ended=verdict.greeting_ended,
        beep=verdict.beep,
        detection_ms=verdict.detection_ms,
    )


async def apply_recording(
    platform: Platform, session: AsyncSession, call: Call, progress: RecordingProgress
) -> None:
    """Create or move the recording; ``media_ref`` stays server-side."""
    recording = await session.scalar(
        select(Recording).where(
            Recording.provider == call.provider,
            Recording.provider_recording_id == progress.provider_recording_id,
        )
    )
    previous = recording.status if recording is not None else None
    if recording is None:
        recording = Recording(
            call_id=call.id,
            provider=call.provider,
            provider_recording_id=progress.provider_recording_id,
            status=progress.status,
        )
        session.add(recording)
        await session.flush()
    if previous in ("completed", "deleted", "failed"):
        note(
            session,
            call,
            "ignored",
            source="provider",
            reason="recording-ended",
            recording_status=progress.status,
            recording_id=str(recording.id),
        )
        return
    if previous == progress.status:
        return
    recording.status = progress.status
    recording.duration_seconds = progress.duration_seconds or recording.duration_seconds
    recording.channels = progress.channels or recording.channels
    recording.media_ref = progress.media_ref or recording.media_ref
    recording.content_type = progress.content_type or recording.content_type
    verb: str = progress.status
    if progress.status == "in-progress" and previous == "paused":
        verb = "resumed"
    if progress.status == "completed":
        recording.completed_at = progress.occurred_at or utcnow()
        call.recording = None
    elif progress.status == "paused":
        call.recording = "paused"
    elif progress.status == "in-progress":
        call.recording = "recording"
    note(
        session,
        call,
        "recording",
        source="provider",
        occurred_at=progress.occurred_at,
        recording_id=str(recording.id),
        recording_status=verb,
    )
    event_type = RECORDING_EVENTS.get(verb)
    if event_type is not None:
        await publish(
            platform,
            session,
            event_type,
            call,
            recording_id=recording.id,
            duration_seconds=recording.duration_seconds,
        )


async def apply_transcript(
    platform: Platform, session: AsyncSession, call: Call, segment: TranscriptSegment
) -> None:
    row = TranscriptSegmentRow(
        call_id=call.id,
        speaker=segment.speaker,
        text=segment.text,
        confidence=segment.confidence,
        start_seconds=segment.start_seconds,
        end_seconds=segment.end_seconds,
        final=segment.final,
        sequence=segment.sequence,
        occurred_at=segment.occurred_at,
    )
    session.add(row)
    await session.flush()
    await publish(
        platform,
        session,
        events.CallTranscribed,
        call,
        segment_id=row.id,
        speaker=row.speaker,
        text=row.text,
        confidence=row.confidence,
        start_seconds=row.start_seconds,
        end_seconds=row.end_seconds,
        final=row.final,
    )
