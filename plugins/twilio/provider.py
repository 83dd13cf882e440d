"""The Twilio telephony provider: REST through the official SDK, TwiML answers, signed webhooks.

Twilio is document style: it asks the ``voice`` webhook what a call does and runs the TwiML
it is answered with. Live calls are steered by replacing their TwiML through the REST API
(transfer, hold, DTMF, a redirect to new instructions) or redirecting them to the ``voice``
webhook again (unhold).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, ClassVar, Literal, TypeVar
from urllib.parse import urlsplit

import httpx

from kernel import RejectedError, TransientError
from plugins.calls import (
    Action,
    CallLost,
    CallProgress,
    CallRef,
    CallStatus,
    ControlCall,
    MachineDetection,
    ParsedWebhook,
    PlaceCall,
    PlacedCall,
    ProviderRefused,
    RecordingAudio,
    RecordingRef,
    StartCapture,
    SuperviseMember,
    SupervisorRole,
    TelephonyProvider,
    UnsupportedAction,
    UpdateCapture,
    WebhookAnswer,
    WebhookRejected,
    WebhookRequest,
)
from plugins.twilio import instructions as twiml
from plugins.twilio import webhooks
from plugins.twilio.client import (
    DEPENDENCY,
    TWILIO_ERRORS,
    RoutedHttpClient,
    classify,
    is_twilio_host,
    make_client,
    refusal,
    route,
    twilio_status,
)
from plugins.twilio.config import TWILIO_API, TwilioSettings, settings_of
from plugins.twilio.secrets import ACCOUNT_SID, AUTH_TOKEN
from plugins.twilio.signature import SignatureError, signature_of, verify_signature

T = TypeVar("T")
STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]
RECORDING_EVENTS = ["in-progress", "completed", "absent"]
NOT_ANSWERED = frozenset({CallStatus.QUEUED, CallStatus.INITIATED, CallStatus.RINGING})
DTMF = re.compile(r"^[0-9*#wW]{1,64}$")
MEDIA_TYPES = {"mp3": "audio/mpeg", "wav": "audio/x-wav"}
RECORDING_STATUS = {
    Action.PAUSE_RECORDING: "paused",
    Action.RESUME_RECORDING: "in-progress",
    Action.STOP_RECORDING: "stopped",
}
AMD_MODES = {
    MachineDetection.DETECT: "Enable",
    MachineDetection.DETECT_MESSAGE_END: "DetectMessageEnd",
}
"""Twilio's ``MachineDetection`` for each asynchronous detection mode."""
XML = "application/xml"
NOT_FOUND = "20404"
"""Twilio's error code for a resource it does not have."""
UNKNOWN_AT_PROVIDER = "unknown-at-provider"
CHUNK = 64 * 1024


class TwilioProvider(TelephonyProvider):
    """One tenant's Twilio account, for one use. Credentials are read from the vault for
    each operation and dropped with the SDK client built for it."""

    style: ClassVar[Literal["document", "commands"]] = "document"

    @property
    def settings(self) -> TwilioSettings:
        return settings_of(self.context.platform)

    # --- REST ------------------------------------------------------------------------------

    async def _credentials(self, purpose: str) -> tuple[str, str]:
        sid = await self.context.secret(ACCOUNT_SID, purpose=purpose)
        token = await self.context.secret(AUTH_TOKEN, purpose=purpose)
        if sid is None or token is None:
            raise ProviderRefused(
                "Twilio is not configured: store twilio.account_sid and twilio.auth_token "
                "in the vault",
                code="not-configured",
            )
        return sid.reveal(), token.reveal()

    async def _client(self, purpose: str) -> tuple[Any, RoutedHttpClient]:
        sid, token = await self._credentials(purpose)
        return make_client(self.context.platform, account_sid=sid, auth_token=token)

    async def _rest(self, http: RoutedHttpClient, operation: Callable[[], Awaitable[T]]) -> T:
        """One SDK operation through the resilience helper: retried while Twilio is unwell
        (honouring ``Retry-After``), :class:`ProviderRefused` when it says no."""

        async def attempt() -> T:
            try:
                return await operation()
            except TWILIO_ERRORS as exc:
                if twilio_status(exc) == 429 and http.retry_after is not None:
                    raise TransientError(
                        DEPENDENCY, "twilio is throttling", status=429, retry_after=http.retry_after
                    ) from exc
                raise

        try:
            return await self.context.call(
                attempt, timeout=self.settings.timeout_seconds, classify=classify
            )
        except RejectedError as exc:
            raise refusal(exc) from exc

    async def check_account(self, account_sid: str, auth_token: str) -> str:
        """The account's status (``active``, ``suspended``, ``closed``) as Twilio reports it
        to these credentials (the vault's key validator)."""
        client, http = make_client(
            self.context.platform, account_sid=account_sid, auth_token=auth_token
        )
        account = await self._rest(
            http, lambda: client.api.v2010.accounts(account_sid).fetch_async()
        )
        return str(account.status)

    # --- calls -----------------------------------------------------------------------------

    async def place_call(self, request: PlaceCall) -> PlacedCall:
        client, http = await self._client("place a call")
        url = self.context.webhook_url
        options: dict[str, Any] = {
            "to": request.to_number,
            "from_": request.from_number,
            "url": url("voice"),
            "method": "POST",
            "status_callback": url("status"),
            "status_callback_method": "POST",
            "status_callback_event": STATUS_EVENTS,
            "timeout": request.timeout_seconds,
        }
        if request.detection is not MachineDetection.OFF:
            # Asynchronous: the call is connected at once (the voice webhook runs its
            # instructions) and the verdict is posted to the amd webhook later.
            options.update(
                machine_detection=AMD_MODES[request.detection],
                async_amd="true",
                async_amd_status_callback=url("amd"),
                async_amd_status_callback_method="POST",
            )
        elif request.machine_detection:
            # Synchronous detection: the voice webhook then says who answered, together
            # with the answer itself (the callee hears a few seconds of silence).
            options["machine_detection"] = "Enable"
        if request.record:
            options.update(
                record=True,
                recording_channels=self.settings.recording_channels,
                recording_status_callback=url("recording"),
                recording_status_callback_method="POST",
                recording_status_callback_event=RECORDING_EVENTS,
            )
        call = await self._rest(http, lambda: client.calls.create_async(**options))
        return PlacedCall(provider_call_id=str(call.sid))

    async def control(self, request: ControlCall) -> None:
        action = request.action
        if action in (Action.MUTE, Action.UNMUTE):
            raise UnsupportedAction("Twilio mutes conference participants only, not a call")
        sid = request.call.provider_call_id
        if not sid:
            raise ProviderRefused("the call has not reached Twilio yet", code="no-call")
        update = self._update(request)
        client, http = await self._client(f"{action.value} a call")
        call = client.calls(sid)
        webhook_url, channels = self.context.webhook_url, self.settings.recording_channels

        async def operation() -> Any:  # a fresh SDK coroutine for each attempt
            if action is Action.START_RECORDING:
                return await call.recordings.create_async(
                    recording_status_callback=webhook_url("recording"),
                    recording_status_callback_method="POST",
                    recording_status_callback_event=RECORDING_EVENTS,
                    recording_channels=channels,
                )
            if action in RECORDING_STATUS:
                # Twilio.CURRENT: the call's recording in progress, whatever its sid.
                recording = call.recordings("Twilio.CURRENT")
                return await recording.update_async(status=RECORDING_STATUS[action])
            return await call.update_async(**update)

        await self._rest(http, operation)

    async def redirect(self, call: CallRef, instructions: Sequence[Any]) -> None:
        """``POST Calls/{sid}.json`` with ``Twiml``: Twilio drops what the call was running
        (an open ``<Gather>`` posts nothing) and runs the new document."""
        sid = call.provider_call_id
        if not sid:
            raise ProviderRefused("the call has not reached Twilio yet", code="no-call")
        document = twiml.document(instructions, self.context.webhook_url).decode()
        client, http = await self._client("redirect a call")
        resource = client.calls(sid)
        await self._rest(http, lambda: resource.update_async(twiml=document))

    async def supervise(self, request: SuperviseMember) -> None:
        """Find the in-progress conference by its FriendlyName (``GET Conferences.json``),
        then update the supervisor's Participant (``POST Conferences/{sid}/Participants/
        {CallSid}.json``): ``Muted`` and ``Coaching`` (with ``CallSidToCoach``, the agent's
        CallSid, for a whisper)."""
        sid = request.call.provider_call_id
        if not sid:
            raise ProviderRefused("the call has not reached Twilio yet", code="no-call")
        update = _participant_update(request)
        client, http = await self._client("change a supervisor's role")
        conferences = client.conferences
        rooms = await self._rest(
            http,
            lambda: conferences.list_async(
                friendly_name=request.conference, status="in-progress", limit=1
            ),
        )
        if not rooms:
            raise ProviderRefused(
                f"Twilio has no conference {request.conference!r} in progress",
                code="no-conference",
            )
        participant = conferences(rooms[0].sid).participants(sid)
        await self._rest(http, lambda: participant.update_async(**update))

    async def start_capture(self, request: StartCapture) -> str:
        """``POST Calls/{CallSid}/Payments.json`` (agent-assisted payments): opens a
        session with the tenant's Pay connector; its progress posts to the ``payment``
        webhook. Returns the session's sid (``PK...``)."""
        sid = _live_sid(request.call)
        client, http = await self._client("take an agent-assisted payment")
        payments = client.calls(sid).payments
        fields: dict[str, Any] = {
            "idempotency_key": request.idempotency_key,
            "status_callback": self.context.webhook_url("payment"),
            "charge_amount": float(request.amount),
            "currency": request.currency,
            "payment_connector": request.connector,
            "payment_method": "credit-card",
            "timeout": request.timeout_seconds,
            "postal_code": request.postal_code,
            "security_code": request.security_code,
        }
        if request.description:
            fields["description"] = request.description
        created = await self._rest(http, lambda: payments.create_async(**fields))
        return str(created.sid)

    async def update_capture(self, request: UpdateCapture) -> None:
        """``POST Calls/{CallSid}/Payments/{Sid}.json`` with ``Capture`` (ask the caller
        for a field) or ``Status`` (``complete``: the connector charges; ``cancel``)."""
        sid = _live_sid(request.call)
        client, http = await self._client("take an agent-assisted payment")
        payment = client.calls(sid).payments(request.session_id)
        fields: dict[str, Any] = {
            "idempotency_key": request.idempotency_key,
            "status_callback": self.context.webhook_url("payment"),
        }
        if request.capture is not None:
            fields["capture"] = request.capture.value
        else:
            fields["status"] = request.status
        await self._rest(http, lambda: payment.update_async(**fields))

    def _update(self, request: ControlCall) -> dict[str, str]:
        """The Call resource update that performs ``request`` (empty for recordings)."""
        action, call = request.action, request.call
        if action is Action.HANGUP:
            return {"status": "canceled" if call.status in NOT_ANSWERED else "completed"}
        if action is Action.TRANSFER:
            if not request.target:
                raise ProviderRefused("a transfer needs a target number", code="no-target")
            return {"twiml": twiml.transfer(request.target, request.caller_id)}
        if action is Action.HOLD:
            return {"twiml": twiml.hold(self.settings.hold_music_url)}
        if action is Action.UNHOLD:
            return {"url": self.context.webhook_url("voice"), "method": "POST"}
        if action is Action.SEND_DTMF:
            if not request.digits or not DTMF.match(request.digits):
                raise ProviderRefused("DTMF digits are 0-9, *, # and w", code="bad-digits")
            return {"twiml": twiml.send_digits(request.digits, self.context.webhook_url("voice"))}
        if action is Action.START_RECORDING or action in RECORDING_STATUS:
            return {}
        raise UnsupportedAction(f"Twilio cannot {action.value}")

    async def call_state(self, call: CallRef) -> CallProgress | None:
        """The Call resource (``GET Calls/{sid}``): Twilio's status is the platform's."""
        sid = call.provider_call_id
        if not sid:
            raise CallLost("the call never reached Twilio", code=UNKNOWN_AT_PROVIDER)
        client, http = await self._client("check a call's state")
        try:
            found = await self._rest(http, lambda: client.calls(sid).fetch_async())
        except ProviderRefused as exc:
            if exc.code == NOT_FOUND:  # another account's, or purged: nothing to ask for
                raise CallLost(f"Twilio has no call {sid}", code=UNKNOWN_AT_PROVIDER) from exc
            raise
        status = webhooks.STATUSES.get(str(found.status or ""))
        if status is None:
            return None
        duration = str(found.duration or "")
        return CallProgress(
            provider_call_id=sid,
            status=status,
            occurred_at=found.end_time if status.terminal else None,
            duration_seconds=int(duration) if duration.isdigit() else None,
            answered_by=webhooks.ANSWERED_BY.get(str(found.answered_by or "")),
        )

    # --- webhooks --------------------------------------------------------------------------

    async def verify_webhook(self, webhook: WebhookRequest) -> None:
        try:
            signature = signature_of(webhook.headers)
            token = await self.context.secret(AUTH_TOKEN, purpose="verify a Twilio webhook")
            if token is None:
                raise SignatureError("no Twilio auth token is stored for this tenant")
            verify_signature(webhook.url, webhook.method, webhook.form, signature, token.reveal())
        except SignatureError as exc:
            raise WebhookRejected(str(exc)) from None

    def parse_webhook(self, webhook: WebhookRequest) -> ParsedWebhook:
        recording_type = MEDIA_TYPES[self.settings.recording_format]
        return webhooks.parse_webhook(webhook, recording_type=recording_type)

    async def execute(self, call: CallRef, instructions: Sequence[Any]) -> WebhookAnswer:
        body = twiml.document(instructions, self.context.webhook_url)
        return WebhookAnswer(body=body, content_type=XML)

    def empty_answer(self) -> WebhookAnswer:
        return WebhookAnswer(body=twiml.empty(), content_type=XML)

    # --- recordings ------------------------------------------------------------------------

    async def recording_audio(self, recording: RecordingRef) -> RecordingAudio:
        sid, token = await self._credentials("fetch a recording")
        fmt = self.settings.recording_format
        url = route(f"{self._media_url(recording, sid)}.{fmt}", self.settings.api_base_url)
        http = self.context.platform.resilience.http

        async def open_media() -> httpx.Response:
            # Redirects (to Twilio's media storage) drop the credentials: httpx sends
            # Authorization to the origin it was given for only.
            request = http.build_request("GET", url, timeout=self.settings.timeout_seconds)
            response = await http.send(
                request, auth=(sid, token), stream=True, follow_redirects=True
            )
            if response.status_code >= 400:
                await response.aclose()
                _raise_for_media(response.status_code)
            return response

        try:
            response = await self.context.call(open_media, timeout=self.settings.timeout_seconds)
        except RejectedError as exc:
            raise ProviderRefused(
                f"Twilio refused the recording media (HTTP {exc.status})", code=str(exc.status)
            ) from exc
        length = response.headers.get("content-length")
        return RecordingAudio(
            content_type=response.headers.get("content-type", MEDIA_TYPES[fmt]),
            chunks=_stream(response),
            size=int(length) if length and length.isdigit() else None,
        )

    @staticmethod
    def _media_url(recording: RecordingRef, account_sid: str) -> str:
        """Where the media is: the callback's RecordingUrl (only ever a Twilio API URL,
        since the account's credentials go with it) or the Recordings API path."""
        if recording.media_ref:
            parts = urlsplit(recording.media_ref)
            if parts.scheme != "https" or not is_twilio_host(parts.hostname):
                raise ProviderRefused("the recording's media is not at Twilio", code="bad-media")
            return re.sub(r"\.(mp3|wav|json)$", "", recording.media_ref.split("?", 1)[0])
        path = f"/2010-04-01/Accounts/{account_sid}/Recordings/{recording.provider_recording_id}"
        return TWILIO_API + path

    async def delete_recording(self, recording: RecordingRef) -> None:
        client, http = await self._client("delete a recording")
        try:
            await self._rest(
                http, lambda: client.recordings(recording.provider_recording_id).delete_async()
            )
        except ProviderRefused as exc:
            if exc.code != NOT_FOUND:  # already gone: what retention wanted
                raise


def _participant_update(request: SuperviseMember) -> dict[str, Any]:
    """The Participant resource update for a supervisor's role: monitor is muted, whisper
    coaches the agent's CallSid, barge is neither."""
    if request.role is SupervisorRole.WHISPER:
        if not request.coach_call_id:
            raise ProviderRefused("a whisper needs the agent's call", code="no-coached-call")
        return {"muted": False, "coaching": True, "call_sid_to_coach": request.coach_call_id}
    return {"muted": request.role is SupervisorRole.MONITOR, "coaching": False}


def _raise_for_media(status: int) -> None:
    if status >= 500 or status in (408, 429):
        raise TransientError(DEPENDENCY, f"twilio answered {status}", status=status)
    raise RejectedError(DEPENDENCY, f"twilio answered {status}", status=status)


async def _stream(response: httpx.Response) -> AsyncIterator[bytes]:
    """The media in chunks as they arrive; the connection is released at the end (or when
    the consumer closes the iterator)."""
    try:
        async for chunk in response.aiter_bytes(CHUNK):
            yield chunk
    finally:
        await response.aclose()


def _live_sid(call: CallRef) -> str:
    if not call.provider_call_id:
        raise ProviderRefused("the call has not reached Twilio yet", code="no-call")
    return call.provider_call_id
