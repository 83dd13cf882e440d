"""``/api/v1/calls``: list, get, place, update and control calls; recordings' audio."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import String, cast, or_, select

from kernel import (
    CursorPage,
    IdempotencyKeyHeader,
    PageParamsDep,
    PlatformDep,
    Principal,
    ProblemError,
    SessionDep,
    paginate,
    problem_responses,
    require,
    utcnow,
)
from plugins.calls import control, events, service
from plugins.calls.ending import force_end
from plugins.calls.links import call_links
from plugins.calls.models import Call, CallEvent, Recording, TranscriptSegmentRow
from plugins.calls.phone import to_e164
from plugins.calls.placing import CallRequest, place_call
from plugins.calls.problems import (
    BAD_TAG,
    CALL_NOT_FOUND,
    CALL_STATE_CONFLICT,
    CAPABILITY_MISSING,
    CONCURRENCY_LIMIT,
    HANDLER_UNAVAILABLE,
    INVALID_NUMBER,
    PROVIDER_NOT_CONFIGURED,
    PROVIDER_REFUSED,
    PROVIDER_UNAVAILABLE,
    RATE_LIMITED,
    RECORDING_NOT_FOUND,
    UNKNOWN_PROVIDER,
)
from plugins.calls.provider import Action, CallStatus, Direction, RecordingRef
from plugins.calls.recordings import delete_recordings, stream_audio
from plugins.calls.registry import check_handler
from plugins.calls.schemas import (
    CallDetailOut,
    CallOut,
    CallUpdate,
    DigitsBody,
    ForceEndBody,
    PlaceCallBody,
    RecordingOut,
    SegmentOut,
    TimelineEntryOut,
    TransferBody,
)

router = APIRouter()

Reader = Annotated[Principal, Depends(require("calls", "read"))]
Creator = Annotated[Principal, Depends(require("calls", "create"))]
Updater = Annotated[Principal, Depends(require("calls", "update"))]
Controller = Annotated[Principal, Depends(require("calls", "control"))]
Transferrer = Annotated[Principal, Depends(require("calls", "transfer"))]
ForceEnder = Annotated[Principal, Depends(require("calls", "force-end"))]
Recorder = Annotated[Principal, Depends(require("calls", "record"))]
RecordingsReader = Annotated[Principal, Depends(require("calls.recordings", "read"))]
RecordingsDeleter = Annotated[Principal, Depends(require("calls.recordings", "delete"))]

TAG = re.compile(r"^[A-Za-z0-9_.:-]{1,40}$")

# The problems each kind of route answers besides the kernel's (see problem_responses).
ONE_CALL = problem_responses(CALL_NOT_FOUND)
CONTROL_PROBLEMS = (
    CALL_NOT_FOUND,
    CALL_STATE_CONFLICT,
    CAPABILITY_MISSING,
    PROVIDER_REFUSED,
    PROVIDER_UNAVAILABLE,
)
CONTROL = problem_responses(*CONTROL_PROBLEMS)
PLACING = problem_responses(
    INVALID_NUMBER,
    BAD_TAG,
    UNKNOWN_PROVIDER,
    HANDLER_UNAVAILABLE,
    PROVIDER_NOT_CONFIGURED,
    PROVIDER_REFUSED,
    CONCURRENCY_LIMIT,
    RATE_LIMITED,
    PROVIDER_UNAVAILABLE,
)
RECORDINGS = problem_responses(CALL_NOT_FOUND, RECORDING_NOT_FOUND, PROVIDER_UNAVAILABLE)


def call_out(call: Call, links: dict[str, Any] | None = None) -> CallOut:
    return CallOut(
        id=call.id,
        direction=call.direction,
        from_=call.from_number,
        to=call.to_number,
        provider=call.provider,
        provider_call_id=call.provider_call_id,
        status=call.status,
        created_at=call.created_at,
        ringing_at=call.ringing_at,
        answered_at=call.answered_at,
        ended_at=call.ended_at,
        duration_seconds=call.duration_seconds,
        hangup_cause=call.hangup_cause,
        answered_by=call.answered_by,
        disposition=call.disposition,
        notes=call.notes,
        tags=list(call.tags or []),
        metadata=dict(call.attributes or {}),
        parent_call_id=call.parent_call_id,
        on_hold=call.on_hold,
        muted=call.muted,
        recording=call.recording,
        links=links or {},
    )


def _tags(tags: list[str]) -> list[str]:
    bad = [tag for tag in tags if not TAG.match(tag)]
    if bad:
        raise ProblemError(BAD_TAG, f"tags must be 1-40 of A-Z a-z 0-9 _ . : - ({bad[0]!r})")
    return list(dict.fromkeys(tags))


async def _handler(
    platform: PlatformDep, session: SessionDep, body: PlaceCallBody
) -> dict[str, str | None]:
    """The IVR flow the call runs once answered, checked now rather than at the answer."""
    if body.flow_id is None:
        return {}
    await check_handler(platform, session, "ivr", str(body.flow_id), field="flow_id")
    return {"handler": "ivr", "handler_target": str(body.flow_id)}


def _actor(principal: Principal) -> str:
    return principal.subject


@router.get("", response_model=CursorPage[CallOut], summary="List calls, newest first")
async def list_calls(
    principal: Reader,
    session: SessionDep,
    platform: PlatformDep,
    page: PageParamsDep,
    status: Annotated[list[CallStatus] | None, Query(description="One or more statuses.")] = None,
    direction: Annotated[Direction | None, Query()] = None,
    number: Annotated[
        str | None, Query(max_length=32, description="Calls from or to this number (E.164).")
    ] = None,
    since: Annotated[datetime | None, Query(description="Created at or after (UTC).")] = None,
    until: Annotated[datetime | None, Query(description="Created before (UTC).")] = None,
    tag: Annotated[str | None, Query(max_length=40)] = None,
) -> CursorPage[CallOut]:
    query = select(Call)
    if status:
        query = query.where(Call.status.in_(status))
    if direction:
        query = query.where(Call.direction == direction)
    if number:
        e164 = to_e164(number, field="number")
        query = query.where(or_(Call.from_number == e164, Call.to_number == e164))
    if since:
        query = query.where(Call.created_at >= since)
    if until:
        query = query.where(Call.created_at < until)
    if tag:
        # Tags are a JSON list of restricted characters (no quotes), so its text form holds
        # `"<tag>"` exactly when the list does, on PostgreSQL and SQLite alike.
        query = query.where(cast(Call.tags, String).like(f'%"{_tags([tag])[0]}"%'))
    rows, cursor = await paginate(session, query, order_by=[Call.created_at, Call.id], params=page)
    links = await call_links(platform, session, principal, rows)
    return CursorPage(items=[call_out(row, links[row.id]) for row in rows], next_cursor=cursor)


@router.post(
    "",
    response_model=CallOut,
    status_code=201,
    summary="Place an outbound call",
    responses=PLACING,
)
async def place(
    body: PlaceCallBody,
    principal: Creator,
    session: SessionDep,
    platform: PlatformDep,
    idempotency_key: IdempotencyKeyHeader,
) -> Response:
    """With an `Idempotency-Key`, the same key and body answer the same call (no second
    call is placed); the same key with another body is a 409."""
    async with platform.idempotency.claim(
        idempotency_key,
        scope="calls.place",
        request=body.model_dump(mode="json", by_alias=True),
        principal=principal,
    ) as claim:
        if claim.replay is not None:
            return claim.replay
        request = CallRequest(
            to_number=to_e164(body.to, field="to"),
            from_number=to_e164(body.from_, field="from") if body.from_ else None,
            provider=body.provider,
            instructions=list(body.instructions),
            record=body.record,
            machine_detection=body.machine_detection,
            detection=body.detection,
            timeout_seconds=body.timeout_seconds,
            tags=_tags(body.tags),
            metadata=body.metadata,
            options=body.options,
            placed_by=_actor(principal),
            **await _handler(platform, session, body),
        )
        call = await place_call(platform, session, request)
        return await claim.complete(
            session,
            201,
            call_out(call).model_dump(mode="json", by_alias=True),
            headers={"Location": f"/api/v1/calls/{call.id}"},
        )


@router.get(
    "/{call_id}",
    response_model=CallDetailOut,
    summary="Get a call with its story",
    responses=ONE_CALL,
)
async def get_call(
    call_id: uuid.UUID, principal: Reader, session: SessionDep, platform: PlatformDep
) -> CallDetailOut:
    call = await service.get_call(session, call_id)
    timeline = await session.scalars(
        select(CallEvent)
        .where(CallEvent.call_id == call_id)
        .order_by(CallEvent.recorded_at, CallEvent.id)
    )
    recordings = await session.scalars(
        select(Recording).where(Recording.call_id == call_id).order_by(Recording.created_at)
    )
    segments = await session.scalars(
        select(TranscriptSegmentRow)
        .where(TranscriptSegmentRow.call_id == call_id)
        .order_by(TranscriptSegmentRow.recorded_at, TranscriptSegmentRow.id)
    )
    detail = CallDetailOut(
        **call_out(call).model_dump(),
        timeline=[TimelineEntryOut.model_validate(row) for row in timeline],
        recordings=[RecordingOut.model_validate(row) for row in recordings],
        transcript=[SegmentOut.model_validate(row) for row in segments],
    )
    detail.links = (await call_links(platform, session, principal, [call]))[call.id]
    return detail


@router.patch(
    "/{call_id}",
    response_model=CallOut,
    summary="Set disposition, notes, tags",
    responses=problem_responses(CALL_NOT_FOUND, BAD_TAG),
)
async def update_call(
    call_id: uuid.UUID,
    body: CallUpdate,
    principal: Updater,
    session: SessionDep,
    platform: PlatformDep,
) -> CallOut:
    call = await service.get_call(session, call_id, for_update=True)
    changed: list[str] = []
    if body.disposition is not None and body.disposition != call.disposition:
        call.disposition, changed = body.disposition, [*changed, "disposition"]
    if body.notes is not None and body.notes != call.notes:
        call.notes, changed = body.notes, [*changed, "notes"]
    if body.tags is not None and _tags(body.tags) != list(call.tags or []):
        call.tags, changed = _tags(body.tags), [*changed, "tags"]
    if body.metadata is not None and body.metadata != call.attributes:
        call.attributes, changed = dict(body.metadata), [*changed, "metadata"]
    if changed:
        call.updated_at = utcnow()
        service.note(
            session, call, "updated", source="api", actor=_actor(principal), changed=changed
        )
        await service.publish(
            platform,
            session,
            events.CallUpdated,
            call,
            disposition=call.disposition,
            notes=call.notes,
            tags=list(call.tags or []),
            changed=changed,
        )
        await session.commit()
    updated = call_out(call)
    updated.links = (await call_links(platform, session, principal, [call]))[call.id]
    return updated


async def _act(
    platform: PlatformDep,
    session: SessionDep,
    call_id: uuid.UUID,
    action: Action,
    principal: Principal,
    **arguments: Any,
) -> CallOut:
    call = await control.act(
        platform, session, call_id, action, actor=_actor(principal), **arguments
    )
    return call_out(call)


@router.post(
    "/{call_id}/hangup",
    response_model=CallOut,
    summary="Hang up (or cancel) a call",
    responses=CONTROL,
)
async def hangup(
    call_id: uuid.UUID, principal: Controller, session: SessionDep, platform: PlatformDep
) -> CallOut:
    return await _act(platform, session, call_id, Action.HANGUP, principal)


@router.post(
    "/{call_id}/force-end",
    response_model=CallOut,
    summary="End a call here at once (a stuck call), then hang it up at the provider",
    responses=problem_responses(CALL_NOT_FOUND, CALL_STATE_CONFLICT),
)
async def force_end_call(
    call_id: uuid.UUID,
    principal: ForceEnder,
    request: Request,
    session: SessionDep,
    platform: PlatformDep,
    body: Annotated[ForceEndBody | None, Body()] = None,
) -> CallOut:
    """For a call its provider or carrier cannot end (its process died, its provider lost
    it): it ends now, `completed` if it was answered, else `canceled`, with `hangup_cause`
    and the end event's `reason` `force-ended`; who did it goes to the timeline and the
    audit log. The provider is then asked to hang up; its answer changes nothing here."""
    call = await force_end(
        platform,
        session,
        call_id,
        principal=principal,
        reason=body.reason if body is not None else None,
        request=request,
    )
    return call_out(call)


@router.post(
    "/{call_id}/transfer",
    response_model=CallOut,
    summary="Blind-transfer to a number",
    responses=problem_responses(*CONTROL_PROBLEMS, INVALID_NUMBER),
)
async def transfer(
    call_id: uuid.UUID,
    body: TransferBody,
    principal: Transferrer,
    session: SessionDep,
    platform: PlatformDep,
) -> CallOut:
    target = to_e164(body.to, field="to")
    return await _act(platform, session, call_id, Action.TRANSFER, principal, target=target)


def _control_route(path: str, action: Action, summary: str) -> None:
    async def endpoint(
        call_id: uuid.UUID, principal: Controller, session: SessionDep, platform: PlatformDep
    ) -> CallOut:
        return await _act(platform, session, call_id, action, principal)

    endpoint.__name__ = action.value.replace("-", "_")
    router.post(f"/{{call_id}}/{path}", response_model=CallOut, summary=summary, responses=CONTROL)(
        endpoint
    )


_control_route("hold", Action.HOLD, "Put a call on hold")
_control_route("unhold", Action.UNHOLD, "Take a call off hold")
_control_route("mute", Action.MUTE, "Mute a call")
_control_route("unmute", Action.UNMUTE, "Unmute a call")


@router.post(
    "/{call_id}/dtmf", response_model=CallOut, summary="Send digits (DTMF)", responses=CONTROL
)
async def send_dtmf(
    call_id: uuid.UUID,
    body: DigitsBody,
    principal: Controller,
    session: SessionDep,
    platform: PlatformDep,
) -> CallOut:
    return await _act(platform, session, call_id, Action.SEND_DTMF, principal, digits=body.digits)


def _recording_route(verb: str, action: Action) -> None:
    async def endpoint(
        call_id: uuid.UUID, principal: Recorder, session: SessionDep, platform: PlatformDep
    ) -> CallOut:
        return await _act(platform, session, call_id, action, principal)

    endpoint.__name__ = f"{verb}_recording"
    router.post(
        f"/{{call_id}}/recording/{verb}",
        response_model=CallOut,
        summary=f"{verb.capitalize()} recording the call",
        responses=CONTROL,
    )(endpoint)


for _verb, _action in (
    ("start", Action.START_RECORDING),
    ("pause", Action.PAUSE_RECORDING),
    ("resume", Action.RESUME_RECORDING),
    ("stop", Action.STOP_RECORDING),
):
    _recording_route(_verb, _action)


@router.get(
    "/{call_id}/recordings",
    response_model=list[RecordingOut],
    summary="List a call's recordings",
    responses=ONE_CALL,
)
async def list_recordings(
    call_id: uuid.UUID, _principal: RecordingsReader, session: SessionDep
) -> list[RecordingOut]:
    await service.get_call(session, call_id)
    rows = await session.scalars(
        select(Recording).where(Recording.call_id == call_id).order_by(Recording.created_at)
    )
    return [RecordingOut.model_validate(row) for row in rows]


async def _recording(session: SessionDep, call_id: uuid.UUID, recording_id: uuid.UUID) -> Recording:
    recording = await session.scalar(
        select(Recording).where(Recording.id == recording_id, Recording.call_id == call_id)
    )
    if recording is None:
        raise ProblemError(RECORDING_NOT_FOUND)
    return recording


@router.get(
    "/{call_id}/recordings/{recording_id}/audio",
    responses=RECORDINGS,
    summary="Stream a recording's audio (fetched from the provider with your credentials)",
    response_class=StreamingResponse,
)
async def recording_audio(
    call_id: uuid.UUID,
    recording_id: uuid.UUID,
    _principal: RecordingsReader,
    session: SessionDep,
    platform: PlatformDep,
) -> StreamingResponse:
    recording = await _recording(session, call_id, recording_id)
    if recording.status != "completed" or recording.deleted_at is not None:
        raise ProblemError(RECORDING_NOT_FOUND, "the recording has no audio (yet, or any more)")
    await session.commit()
    return await stream_audio(
        platform,
        recording.tenant_id,
        recording.provider,
        call_id,
        RecordingRef(
            provider_recording_id=recording.provider_recording_id,
            provider_call_id=None,
            media_ref=recording.media_ref,
        ),
    )


@router.delete(
    "/{call_id}/recordings/{recording_id}",
    responses=RECORDINGS,
    status_code=204,
    summary="Delete a recording (here and at the provider)",
)
async def delete_recording(
    call_id: uuid.UUID,
    recording_id: uuid.UUID,
    _principal: RecordingsDeleter,
    session: SessionDep,
    platform: PlatformDep,
) -> Response:
    recording = await _recording(session, call_id, recording_id)
    await delete_recordings(platform, session, [recording], reason="deleted over the API")
    return Response(status_code=204)
