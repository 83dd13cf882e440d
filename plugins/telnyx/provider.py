"""``TelnyxProvider``: the telephony provider contract over Telnyx Call Control v2.

Command style: Telnyx runs one command at a time and reports each step's end by webhook, so
:meth:`TelnyxProvider.execute` issues the first instruction and carries the others in
``client_state`` (``instructions.py``, ``client_state.py``); webhooks are verified with the
tenant's Ed25519 public key (``signature.py``) and mapped in ``webhooks.py``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from kernel import RejectedError, TransientError
from plugins.calls import (
    CallProgress,
    CallRef,
    CallStatus,
    ControlCall,
    Direction,
    Hangup,
    MachineDetection,
    ParsedWebhook,
    PlaceCall,
    PlacedCall,
    ProviderRefused,
    RecordingAudio,
    RecordingRef,
    SuperviseMember,
    TelephonyProvider,
    WebhookAnswer,
    WebhookRejected,
    WebhookRequest,
)
from plugins.telnyx.client import DEPENDENCY, call_api, client_for
from plugins.telnyx.client_state import CallState, encode
from plugins.telnyx.config import settings_of
from plugins.telnyx.instructions import Commands, control_command, supervisor_role
from plugins.telnyx.secrets import CONNECTION_ID, PUBLIC_KEY
from plugins.telnyx.signature import SignatureError, verify_signature
from plugins.telnyx.steps import normalize, refuse_unsupported
from plugins.telnyx.steps import parse as parse_steps
from plugins.telnyx.webhooks import parse_webhook

logger = logging.getLogger("kraliki.telnyx")

CHUNK = 64 * 1024
ENDED_CODES = frozenset({"10005", "90018"})
"""Resource not found (the status is gone ten minutes after the end), call has ended."""


class TelnyxProvider(TelephonyProvider):
    """One tenant's Telnyx account, for one use."""

    style = "commands"

    # -- placing and controlling calls ------------------------------------------------------

    async def place_call(self, request: PlaceCall) -> PlacedCall:
        connection = await self.context.secret(CONNECTION_ID, purpose="place a call")
        if connection is None:
            raise ProviderRefused(
                "Telnyx is not set up for this tenant: store telnyx.connection_id (the Call "
                "Control application id) in the vault",
                code="not-configured",
            )
        client = await client_for(self.context, purpose="place a call")
        state = encode(CallState(call_id=str(request.call_id)), max_length=1024)
        options: dict[str, Any] = {}
        if request.detection is MachineDetection.DETECT_MESSAGE_END:
            # The verdict, then the end of a machine's greeting (call.machine.greeting.ended).
            options["answering_machine_detection"] = "detect_beep"
        elif request.detection is MachineDetection.DETECT or request.machine_detection:
            # Telnyx detects asynchronously either way: call.machine.detection.ended.
            options["answering_machine_detection"] = "detect"
        if request.record:
            options["record"] = "record-from-answer"
        if request.options.get("transcription") is True:
            options["transcription"] = True
        connection_id = connection.reveal()
        calls = client.calls  # resources load on first use: outside the timed attempt

        async def dial() -> str:
            answer = await calls.dial(
                connection_id=connection_id,
                to=request.to_number,
                from_=request.from_number,
                webhook_url=self.context.webhook_url("events"),
                timeout_secs=min(max(request.timeout_seconds, 5), 600),
                client_state=state,
                # The same id on every attempt: Telnyx ignores a repeat that did reach it.
                command_id=f"dial-{request.call_id}",
                **options,
            )
            if answer.data is None:
                raise ProviderRefused("Telnyx accepted the call but returned no call id")
            return answer.data.call_control_id

        return PlacedCall(await call_api(self.context, dial))

    async def control(self, request: ControlCall) -> None:
        call_control_id = _call_control_id(request.call)
        name, arguments = control_command(
            request, settings_of(self.context.platform).hold_audio_url
        )
        client = await client_for(self.context, purpose=f"call control: {request.action}")
        command = getattr(client.calls.actions, name)  # loaded before the timed attempt

        async def send() -> object:
            result: object = await command(
                call_control_id, command_id=request.command_id, **arguments
            )
            return result

        await call_api(self.context, send)

    async def supervise(self, request: SuperviseMember) -> None:
        """``POST /v2/conferences/{id}/actions/update`` with the supervisor's
        ``call_control_id``, its new ``supervisor_role`` and, for a whisper, the agent's leg
        (``whisper_call_control_ids``); the room is found by name among those in progress."""
        call_control_id = _call_control_id(request.call)
        role = supervisor_role(request.role, request.coach_call_id)
        conferences = (
            await client_for(self.context, purpose="change a supervisor's role")
        ).conferences
        actions = conferences.actions  # loaded before the timed attempts
        page = await call_api(
            self.context,
            lambda: conferences.list(filter={"name": request.conference}, page_size=20),
        )
        live = [room for room in page.data if room.status != "completed"]
        if not live:
            raise ProviderRefused(
                f"Telnyx has no conference {request.conference!r} in progress",
                code="no-conference",
            )
        await call_api(
            self.context,
            lambda: actions.update(
                live[0].id,
                call_control_id=call_control_id,
                command_id=request.command_id,
                **role,
            ),
        )

    async def call_state(self, call: CallRef) -> CallProgress | None:
        """``GET /v2/calls/{call_control_id}``: whether the call is alive and, once it is
        not, when it ended. Telnyx says nothing of how it ended: an answered call ended
        ``completed``, one not answered ``failed``. Telnyx keeps the status ten minutes
        after the end; after that (404) the call has ended all the same."""
        call_control_id = _call_control_id(call)
        calls = (await client_for(self.context, purpose="check a call's state")).calls
        ended_at: datetime | None = None
        duration: int | None = None
        try:
            answer = await call_api(self.context, lambda: calls.retrieve_status(call_control_id))
        except ProviderRefused as exc:
            if exc.code not in ENDED_CODES:
                raise
        else:
            data = answer.data
            if data is None or data.is_alive or not data.end_time:
                return None  # alive (or still dialling): nothing more to learn
            ended_at = _timestamp(data.end_time)
            duration = data.call_duration
        answered = call.status is CallStatus.IN_PROGRESS
        return CallProgress(
            provider_call_id=call_control_id,
            status=CallStatus.COMPLETED if answered else CallStatus.FAILED,
            occurred_at=ended_at,
            duration_seconds=duration if answered else 0,
        )

    # -- webhooks ---------------------------------------------------------------------------

    async def verify_webhook(self, webhook: WebhookRequest) -> None:
        public_key = await self.context.secret(PUBLIC_KEY, purpose="verify a webhook")
        if public_key is None:
            raise WebhookRejected("the tenant has no telnyx.public_key to check signatures with")
        try:
            verify_signature(
                webhook.headers,
                webhook.body,
                public_key.reveal(),
                tolerance_seconds=settings_of(self.context.platform).timestamp_tolerance_seconds,
            )
        except SignatureError as exc:
            raise WebhookRejected(str(exc)) from None

    def parse_webhook(self, webhook: WebhookRequest) -> ParsedWebhook:
        return parse_webhook(webhook)

    async def execute(self, call: CallRef, instructions: Sequence[Any]) -> WebhookAnswer:
        parsed = parse_steps(instructions)
        refuse_unsupported(parsed)
        steps = normalize(parsed)
        if not steps:
            return self.empty_answer()
        commands = await self._commands(call, purpose="run call instructions")
        unanswered = call.status.rank < CallStatus.IN_PROGRESS.rank
        if call.direction is Direction.INBOUND and unanswered and not isinstance(steps[0], Hangup):
            operation = commands.answer(steps)
        else:
            operation = commands.first(steps)
        await call_api(self.context, operation)
        return self.empty_answer()

    async def redirect(self, call: CallRef, instructions: Sequence[Any]) -> None:
        """Stop what the call runs (``gather_stop``, ``playback_stop``), then issue the
        instructions as :meth:`execute` does. Telnyx refusing a stop because nothing of the
        kind runs is no failure; a call that ended is."""
        parsed = parse_steps(instructions)
        refuse_unsupported(parsed)
        steps = normalize(parsed)
        commands = await self._commands(call, purpose="redirect a call")
        for stop in commands.stops():
            try:
                await call_api(self.context, stop)
            except ProviderRefused as exc:
                if exc.code in ENDED_CODES:
                    raise
                logger.info("telnyx call %s: nothing to stop (%s)", call.id, exc.detail)
        if steps:
            await call_api(self.context, commands.first(steps))

    async def _commands(self, call: CallRef, *, purpose: str) -> Commands:
        call_control_id = _call_control_id(call)
        return Commands(
            client=await client_for(self.context, purpose=purpose),
            call=call,
            call_control_id=call_control_id,
            settings=settings_of(self.context.platform),
            webhook_url=self.context.webhook_url("events"),
            command_id=str(uuid.uuid4()),
        )

    # -- recordings -------------------------------------------------------------------------

    async def recording_audio(self, recording: RecordingRef) -> RecordingAudio:
        """The recording's media, streamed. Telnyx's media links are pre-signed and expire
        after ten minutes, so a fresh one is asked for when the recording id is known; the
        link is fetched without the API key (storage refuses a second credential)."""
        url = recording.media_ref
        if _is_telnyx_id(recording.provider_recording_id):
            url = await self._fresh_media_url(recording.provider_recording_id) or url
        if not url:
            raise ProviderRefused("Telnyx gave no media for this recording")
        http = self.context.platform.resilience.http
        source = url

        async def open_stream() -> httpx.Response:
            response = await http.send(http.build_request("GET", source), stream=True)
            if response.status_code >= 400:
                await response.aclose()
                retry = response.status_code >= 500 or response.status_code in (408, 429)
                error = TransientError if retry else RejectedError
                raise error(
                    DEPENDENCY,
                    f"telnyx media answered {response.status_code}",
                    status=response.status_code,
                )
            return response

        try:
            response = await self.context.call(open_stream)
        except RejectedError as exc:
            raise ProviderRefused(
                f"Telnyx refused the recording's media ({exc.status})", code="media-refused"
            ) from exc
        size = response.headers.get("content-length")
        given = response.headers.get("content-type", "")
        return RecordingAudio(
            # Storage often answers application/octet-stream: the link's extension knows.
            content_type=given if given.startswith("audio/") else recording_type(url),
            chunks=_stream(response),
            size=int(size) if size and size.isdigit() else None,
        )

    async def _fresh_media_url(self, recording_id: str) -> str | None:
        recordings = (await client_for(self.context, purpose="fetch a recording")).recordings
        answer = await call_api(self.context, lambda: recordings.retrieve(recording_id))
        urls = answer.data.download_urls if answer.data is not None else None
        if urls is None:
            return None
        return urls.mp3 or urls.wav

    async def delete_recording(self, recording: RecordingRef) -> None:
        if not _is_telnyx_id(recording.provider_recording_id):
            return  # no id Telnyx knows: nothing the platform can delete there
        recordings = (await client_for(self.context, purpose="delete a recording")).recordings
        recording_id = recording.provider_recording_id

        async def delete() -> None:
            import telnyx

            try:
                await recordings.delete(recording_id)
            except telnyx.NotFoundError:
                logger.info("telnyx recording %s was deleted already", recording_id)

        await call_api(self.context, delete)


def _timestamp(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _call_control_id(call: CallRef) -> str:
    if not call.provider_call_id:
        raise ProviderRefused("the call has no Telnyx call control id yet")
    return call.provider_call_id


def _is_telnyx_id(recording_id: str) -> bool:
    """Ids made up by ``webhooks._recording_id`` (``leg:...``) are not Telnyx's."""
    return bool(recording_id) and not recording_id.startswith("leg:")


def recording_type(url: str) -> str:
    return "audio/wav" if url.split("?", 1)[0].endswith(".wav") else "audio/mpeg"


async def _stream(response: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.aiter_bytes(CHUNK):
            yield chunk
    finally:
        await response.aclose()
