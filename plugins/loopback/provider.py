"""The loopback telephony provider: a carrier that needs no account.

Placing a call starts a scripted callee in this process (:mod:`plugins.loopback.carrier.call`)
whose events come back through the platform's public webhook URLs, signed like a real
carrier's, so verification, de-duplication and the status machine run exactly as with
Twilio or Telnyx. Loopback calls live in the process that placed them: control actions
reach them only there, and when that process dies they are lost (its carrier's lease,
:mod:`plugins.loopback.carrier.lease`, tells other processes so). It is a development and test
provider.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from plugins.calls import (
    Action,
    CallLost,
    CallProgress,
    CallRef,
    CallStatus,
    Capability,
    ControlCall,
    Direction,
    InstructionList,
    ParsedWebhook,
    PlaceCall,
    PlacedCall,
    ProviderRefused,
    RecordingAudio,
    RecordingRef,
    StartCapture,
    SuperviseMember,
    TelephonyProvider,
    UpdateCapture,
    WebhookAnswer,
    WebhookRejected,
    WebhookRequest,
    is_sip_uri,
)
from plugins.loopback.carrier import capture, conference, control
from plugins.loopback.carrier.call import CarrierCall
from plugins.loopback.carrier.lease import carrier_alive, carrier_of
from plugins.loopback.carrier.media import WAV_CONTENT_TYPE, MediaRefError, parse_ref, wav_chunks
from plugins.loopback.carrier.script import Script, ScriptError, parse_script, script_for_number
from plugins.loopback.carrier.state import LoopbackState, loopback_state
from plugins.loopback.instructions import CONTENT_TYPE, document
from plugins.loopback.secrets import read_secret, signing_secret
from plugins.loopback.signature import SignatureError, check_headers, verify_signature
from plugins.loopback.webhooks import parse_webhook

CAPABILITIES = frozenset(
    {
        Capability.TRANSFER,
        Capability.HOLD,
        Capability.MUTE,
        Capability.DTMF,
        Capability.RECORDING,
        Capability.TRANSCRIPTION,
        Capability.MACHINE_DETECTION,
        Capability.CONFERENCING,
        Capability.COACHING,
        Capability.SPEECH_RECOGNITION,
        Capability.SECURE_PAYMENTS,
        Capability.AGENT_PAYMENTS,
    }
)
"""Everything, payments included: its simulated connector takes named test cards (a ``pay``
script step; for an agent's capture, the ``card`` in the callee's hand), never card numbers
from a script."""
OPTIONS = frozenset({"script"})


class LoopbackProvider(TelephonyProvider):
    style = "document"

    @property
    def state(self) -> LoopbackState:
        return loopback_state(self.context.platform)

    # -- calls ---------------------------------------------------------------------------

    async def place_call(self, request: PlaceCall) -> PlacedCall:
        if not (control.E164.match(request.to_number) or is_sip_uri(request.to_number)):
            raise ProviderRefused(
                f"to {request.to_number!r} is neither E.164 nor a SIP URI", code="invalid-number"
            )
        if not control.E164.match(request.from_number):
            raise ProviderRefused(
                f"from number {request.from_number!r} is not E.164", code="invalid-number"
            )
        script = self.script_of(request)
        secret = await self._secret()
        context = self.context
        if context.call_id is None:  # the URLs carry the call, as calls' own contexts do
            context = replace(context, call_id=request.call_id)
        call = CarrierCall(
            state=self.state, context=context, secret=secret, script=script, request=request
        )
        await self._start(call)
        return PlacedCall(provider_call_id=call.provider_call_id, status=CallStatus.INITIATED)

    async def receive_call(
        self, *, to_number: str, from_number: str, script: Script
    ) -> CarrierCall:
        """Someone calls ``to_number`` from ``from_number``: the carrier delivers the call to
        the platform through its webhooks, as a real carrier delivers a call to one of the
        tenant's numbers (ringing, then the voice webhook that asks what to do), and the
        caller then does what ``script`` says (:func:`~plugins.loopback.carrier.script.
        parse_caller_script`). The call runs in this process like a placed one."""
        if not control.E164.match(to_number):
            raise ProviderRefused(f"to {to_number!r} is not E.164", code="invalid-number")
        secret = await self._secret()
        # The platform numbers an arriving call itself: this id goes nowhere (no ?call=).
        request = PlaceCall(call_id=uuid.uuid4(), from_number=from_number, to_number=to_number)
        call = CarrierCall(
            state=self.state,
            context=self.context,
            secret=secret,
            script=script,
            request=request,
            direction=Direction.INBOUND,
        )
        await self._start(call)
        return call

    async def _secret(self) -> str:
        """The tenant's signing secret, unless the carrier is shutting down."""
        state = self.state
        if state.closed:
            raise ProviderRefused("the loopback carrier is shutting down", code="carrier-closed")
        secret = await signing_secret(self.context, state)
        if state.closed:  # while the secret was read
            raise ProviderRefused("the loopback carrier is shutting down", code="carrier-closed")
        return secret

    async def _start(self, call: CarrierCall) -> None:
        state = self.state
        # Other processes must see this carrier alive before they can see its call.
        await state.lease.hold(self.context.platform, lambda: bool(state.calls))
        if state.closed:  # while the lease was renewed
            raise ProviderRefused("the loopback carrier is shutting down", code="carrier-closed")
        call.start()

    def script_of(self, request: PlaceCall) -> Script:
        """The call's own script (``options["script"]``), else the ``callees`` setting's
        next one for the number, else the number's last digits' (a SIP URI's: its user
        part's, ``sip:agent-0005@pbx.example`` answers as ``...0005`` does)."""
        unknown = sorted(set(request.options) - OPTIONS)
        if unknown:
            raise ProviderRefused(
                f"unknown loopback option(s) {', '.join(unknown)}; loopback takes 'script'",
                code="invalid-options",
            )
        if "script" in request.options:
            try:
                return parse_script(request.options["script"])
            except ScriptError as exc:
                raise ProviderRefused(str(exc), code="invalid-script") from None
        # A SIP URI's user part chooses the callee as a number's last digits do.
        destination = request.to_number
        scripts = self.state.settings.callees.get(destination)
        if scripts:  # the operator's own callee for this number: its next script
            turn = self.state.callee_turns.get(destination, 0)
            self.state.callee_turns[destination] = turn + 1
            return parse_script(scripts[min(turn, len(scripts) - 1)])
        if destination.startswith("sip:"):
            destination = destination.removeprefix("sip:").split("@", 1)[0]
        return script_for_number(destination, self.state.settings)

    async def control(self, request: ControlCall) -> None:
        call_id = request.call.provider_call_id
        if request.action == Action.HANGUP and call_id is not None and self._owns_ended(call_id):
            return  # hanging up an ended call changes nothing
        control.apply(self._running(call_id), request)

    async def redirect(self, call: CallRef, instructions: Sequence[Any]) -> None:
        """The carrier drops what the call runs (an open gather answers nothing, a room is
        left) and runs ``instructions`` from now on."""
        steps = list(InstructionList(steps=list(instructions)).steps)
        running = self._running(call.provider_call_id)
        if running.status != CallStatus.IN_PROGRESS or running.ended:
            raise ProviderRefused(
                f"loopback call {running.provider_call_id} is not answered: cannot redirect",
                code="call-not-answered",
            )
        running.redirect(steps)

    async def supervise(self, request: SuperviseMember) -> None:
        """The carrier changes the supervisor's role in the tenant's room (its call log
        records it: ``("supervisor", role)``)."""
        running = self._running(request.call.provider_call_id)
        conference.supervise(running, request.conference, request.role, request.coach_call_id)

    async def start_capture(self, request: StartCapture) -> str:
        """The carrier opens an agent-assisted capture session on the answered call (its
        log: ``("capture", "started")``) and returns its id, ``LC`` + 32 hex digits; a
        repeated idempotency key returns the same session. The callee is asked nothing yet.
        Refused: a call this process does not run or that ended, one not answered, one with
        a session open already (``capture-in-progress``)."""
        running = self._running(request.call.provider_call_id)
        return capture.start(running, request)

    async def update_capture(self, request: UpdateCapture) -> None:
        """The callee keys the field asked for from the test card in its hand, and the
        carrier posts its masked progress to the ``payment`` webhook; ``complete`` has the
        simulated connector charge it, ``cancel`` ends the session without a word
        (:mod:`plugins.loopback.carrier.capture`). A repeated idempotency key does nothing.
        Refused: the call is not running here or not answered, the session is unknown
        (``capture-unknown``) or over (``capture-ended``), the field was not asked for at
        the start (``capture-field-unused``), fields are still missing on ``complete``
        (``capture-incomplete``)."""
        running = self._running(request.call.provider_call_id)
        capture.update(running, request)

    def _running(self, call_id: str | None) -> CarrierCall:
        """The tenant's call running in this process; :class:`ProviderRefused` otherwise."""
        call = self.state.calls.get(call_id) if call_id is not None else None
        if call is not None and call.context.tenant_id != self.context.tenant_id:
            call = None  # another tenant's call does not exist for this one
        if call is not None:
            return call
        if call_id is not None and self._owns_ended(call_id):
            raise ProviderRefused(f"loopback call {call_id} has ended", code="call-ended")
        raise ProviderRefused(
            f"loopback call {call_id} is not running in this process (loopback calls "
            "live in the process that placed them; force-end ends one anywhere)",
            code="call-unknown",
        )

    async def call_state(self, call: CallRef) -> CallProgress | None:
        """As the carrier of this process has the call; a call it does not run is alive
        when its carrier (another process) renews its lease, else lost (``carrier-lost``)."""
        state = self.state
        call_id = call.provider_call_id or ""
        live = state.calls.get(call_id)
        if live is not None and live.context.tenant_id == self.context.tenant_id:
            return CallProgress(provider_call_id=call_id, status=live.status)
        if self._owns_ended(call_id):
            return CallProgress(provider_call_id=call_id, status=state.ended[call_id].status)
        carrier = carrier_of(call_id)
        lease = state.settings.carrier_lease_seconds
        if (
            carrier is not None
            and carrier != state.instance
            and await carrier_alive(self.context.platform, carrier, lease)
        ):
            return None  # another worker's: alive there
        raise CallLost(
            f"the process that carried loopback call {call_id} is gone (loopback calls live "
            "in the process that placed them)",
            code="carrier-lost",
        )

    def _owns_ended(self, call_id: str) -> bool:
        ended = self.state.ended.get(call_id)
        return ended is not None and ended.tenant_id == self.context.tenant_id

    # -- webhooks ------------------------------------------------------------------------

    async def verify_webhook(self, webhook: WebhookRequest) -> None:
        tolerance = self.state.settings.timestamp_tolerance_seconds
        try:
            # Cheap checks first: junk requests never reach the vault (nor its audit log).
            check_headers(webhook.headers, tolerance_seconds=tolerance)
            secret = await read_secret(self.context, purpose="verify a loopback webhook")
            if secret is None:
                raise SignatureError("the tenant has no loopback signing secret yet")
            verify_signature(secret, webhook.headers, webhook.body, tolerance_seconds=tolerance)
        except SignatureError as exc:
            raise WebhookRejected(str(exc)) from None

    def parse_webhook(self, webhook: WebhookRequest) -> ParsedWebhook:
        return parse_webhook(webhook)

    async def execute(self, call: CallRef, instructions: Sequence[Any]) -> WebhookAnswer:
        """Answer the webhook with the instructions as JSON: the carrier runs them."""
        return WebhookAnswer(body=document(instructions), content_type=CONTENT_TYPE)

    # -- recordings ----------------------------------------------------------------------

    async def recording_audio(self, recording: RecordingRef) -> RecordingAudio:
        """A generated WAV of the recording's length (loopback keeps no audio)."""
        if recording.media_ref is None:
            raise ProviderRefused("the recording has no media yet", code="recording-not-ready")
        try:
            media = parse_ref(recording.media_ref)
        except MediaRefError as exc:
            raise ProviderRefused(str(exc), code="recording-unknown") from None
        if media.recording_id != recording.provider_recording_id:
            raise ProviderRefused(
                "the media belongs to another recording", code="recording-unknown"
            )
        return RecordingAudio(
            content_type=WAV_CONTENT_TYPE, chunks=wav_chunks(media), size=media.size
        )
