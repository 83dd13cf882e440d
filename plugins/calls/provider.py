"""The telephony provider contract: the public API a provider plugin (Twilio, Telnyx, loopback,
yours) implements and the ``calls`` plugin drives.

A provider plugin requires ``calls``, implements ``kraliki_telephony_providers`` returning
:class:`ProviderSpec` values, and declares its vault secrets with ``kraliki_vault_secrets``.
``calls`` builds a fresh provider object per tenant and use (``spec.factory(context)``), never
a shared mutable singleton, and calls it to:

* place an outbound call (:meth:`TelephonyProvider.place_call`),
* control a live call (:meth:`TelephonyProvider.control`) or replace what it runs with new
  instructions (:meth:`TelephonyProvider.redirect`), or change a supervisor's role in a
  conference (:meth:`TelephonyProvider.supervise`),
* verify and parse the provider's webhooks (:meth:`TelephonyProvider.verify_webhook`,
  :meth:`TelephonyProvider.parse_webhook`) into provider-neutral :data:`NormalizedEvent` values,
* execute provider-neutral :data:`Instruction` values (:meth:`TelephonyProvider.execute`):
  a document-style provider answers the webhook with them (Twilio: TwiML), a command-style
  one issues commands (Telnyx Call Control) and answers the webhook with nothing,
* run an agent-assisted card capture on a live call (:meth:`TelephonyProvider.start_capture`,
  :meth:`TelephonyProvider.update_capture`), whose masked progress comes back as
  :class:`PaymentProgress` webhooks,
* stream a recording's audio with the tenant's credentials
  (:meth:`TelephonyProvider.recording_audio`),
* say where a call is now (:meth:`TelephonyProvider.call_state`), when the platform has not
  heard of it for a while (reconciliation: its webhooks went missing, or the process that
  carried it died).

Every REST call to the provider goes through :meth:`ProviderContext.call` (timeout, retries,
the (tenant, provider) circuit breaker). See ``docs/providers.md``.
"""

from __future__ import annotations

import abc
import enum
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Classifier, Platform, SecretValue, tenant_scope

T = TypeVar("T")


class CallStatus(enum.StrEnum):
    """The one provider-neutral call status. Transitions only move forward (by rank); a
    terminal status is final."""

    QUEUED = "queued"
    """Accepted by the platform, not handed to a provider yet."""
    INITIATED = "initiated"
    """The provider accepted the call and is dialling."""
    RINGING = "ringing"
    IN_PROGRESS = "in-progress"
    """Answered (by a human or a machine)."""
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"
    CANCELED = "canceled"
    """Ended by the platform before it was answered."""

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATUSES

    @property
    def rank(self) -> int:
        """Order of progress: a status can only be followed by one of a higher rank."""
        return _RANKS[self]


TERMINAL_STATUSES = frozenset(
    {
        CallStatus.COMPLETED,
        CallStatus.BUSY,
        CallStatus.NO_ANSWER,
        CallStatus.FAILED,
        CallStatus.CANCELED,
    }
)
_RANKS = {
    CallStatus.QUEUED: 0,
    CallStatus.INITIATED: 1,
    CallStatus.RINGING: 2,
    CallStatus.IN_PROGRESS: 3,
    **dict.fromkeys(TERMINAL_STATUSES, 4),
}


class Direction(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class AnsweredBy(enum.StrEnum):
    HUMAN = "human"
    MACHINE = "machine"
    UNKNOWN = "unknown"


class MachineDetection(enum.StrEnum):
    """Asynchronous answering-machine detection asked for when placing a call: the call is
    connected at once (its instructions run while detection listens) and the verdict comes
    later as a :class:`MachineDetected` event."""

    OFF = "off"
    DETECT = "detect"
    """Report human or machine as soon as the provider can tell."""
    DETECT_MESSAGE_END = "detect-message-end"
    """Also wait for the end of a machine's greeting (its beep): the moment to leave a
    message. A human is reported as soon as told."""


class Capability(enum.StrEnum):
    """What a provider can do beyond placing and hanging up calls; ``calls`` refuses an action
    (409) on a provider without the capability it needs."""

    TRANSFER = "transfer"
    HOLD = "hold"
    MUTE = "mute"
    DTMF = "dtmf"
    RECORDING = "recording"
    TRANSCRIPTION = "transcription"
    MACHINE_DETECTION = "machine-detection"
    CONFERENCING = "conferencing"
    COACHING = "coaching"
    """Whisper and barge into a conference (supervisor)."""
    SECURE_PAYMENTS = "secure-payments"
    """Capture card details over the phone without the platform hearing the digits (PCI)."""
    SPEECH_RECOGNITION = "speech-recognition"
    """A :class:`Gather` that listens for speech as well as (or instead of) digits."""
    AGENT_PAYMENTS = "agent-payments"
    """Agent-assisted capture: during a live call, an agent asks the caller for one card
    field at a time (:meth:`TelephonyProvider.start_capture`), the caller keys it into the
    provider's secure capture, and only masked progress comes back (PCI)."""


# --- Instructions --------------------------------------------------------------------------


class _Instruction(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Say(_Instruction):
    kind: Literal["say"] = "say"
    text: str = Field(min_length=1, max_length=4000)
    voice: str | None = None
    language: str = "en-US"


class Play(_Instruction):
    kind: Literal["play"] = "play"
    url: str = Field(min_length=1, max_length=2048)
    loop: int = Field(default=1, ge=1, le=100)


class Pause(_Instruction):
    kind: Literal["pause"] = "pause"
    seconds: int = Field(default=1, ge=1, le=14400)


class Gather(_Instruction):
    """Collect digits and/or speech (the prompt plays meanwhile); the result comes back as an
    :class:`InstructionsNeeded` event carrying ``digits`` or ``speech`` (neither: no input).

    Speech needs :attr:`Capability.SPEECH_RECOGNITION`."""

    kind: Literal["gather"] = "gather"
    prompt: list[Say | Play | Pause] = Field(default_factory=list)
    num_digits: int | None = Field(default=None, ge=1, le=64)
    finish_on_key: str = Field(default="#", pattern=r"^[0-9*#]?$")
    timeout_seconds: int = Field(default=5, ge=1, le=60)
    dtmf: bool = True
    """Listen for keys."""
    speech: bool = False
    """Listen for speech (the provider's recognizer turns it into text)."""
    language: str = Field(default="en-US", max_length=16)
    """The language the caller is expected to speak."""
    hints: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=50
    )
    """Words or phrases the recognizer should expect (menu options)."""

    @model_validator(mode="after")
    def _listens(self) -> Gather:
        if not (self.dtmf or self.speech):
            raise ValueError("a gather listens for digits, speech or both")
        return self


class Dial(_Instruction):
    """Connect the call to another number (a blind transfer when sent to a live call).

    With ``report_outcome``, the call stays with the platform: when the dialled leg ends
    (answered and hung up, busy, not answered, failed) the provider reports it as an
    :class:`InstructionsNeeded` ``dialed`` with :attr:`~InstructionsNeeded.dial_status`, and
    the answer to that report is what the caller hears next (an IVR takes its "no answer"
    branch). Steps after such a dial in the same list are not run. Without it, steps after
    the dial run when the dialled leg ends, whatever the outcome (command-style providers
    and TwiML alike)."""

    kind: Literal["dial"] = "dial"
    number: str
    caller_id: str | None = None
    timeout_seconds: int = Field(default=30, ge=5, le=600)
    report_outcome: bool = False


class SupervisorRole(enum.StrEnum):
    """How a supervisor takes part in an agent's conference (needs
    :attr:`Capability.COACHING`); it may change during the call
    (:meth:`TelephonyProvider.supervise`)."""

    MONITOR = "monitor"
    """Hears everyone; nobody hears them."""
    WHISPER = "whisper"
    """Hears everyone; only the coached call (the agent's) hears them."""
    BARGE = "barge"
    """Hears and is heard by everyone, as any member."""


class Conference(_Instruction):
    kind: Literal["conference"] = "conference"
    name: str = Field(min_length=1, max_length=128)
    muted: bool = False
    coach_call_id: str | None = None
    """Whisper: heard only by this provider call id (needs :attr:`Capability.COACHING`);
    with ``supervisor``, the call a whispering supervisor coaches."""
    start_on_enter: bool = True
    end_on_exit: bool = False
    beep: bool = False
    supervisor: SupervisorRole | None = None
    """The member joins as a supervisor: ``monitor`` hears everyone and nobody hears them;
    ``whisper`` is heard only by ``coach_call_id``'s call (required for whisper, a provider
    call id); ``barge`` hears and is heard by all. A supervisor joins a live conference, it
    never starts one (needs :attr:`Capability.COACHING`)."""

    @model_validator(mode="after")
    def _supervised(self) -> Conference:
        if self.supervisor is SupervisorRole.WHISPER and not self.coach_call_id:
            raise ValueError("a whispering supervisor needs coach_call_id (the agent's call)")
        return self


class Record(_Instruction):
    kind: Literal["record"] = "record"
    max_seconds: int = Field(default=3600, ge=1, le=14400)
    play_beep: bool = True
    transcribe: bool = False


class Pay(_Instruction):
    """Capture a card securely (the digits go to the provider's payment connector only)."""

    kind: Literal["pay"] = "pay"
    amount: str | None = Field(default=None, pattern=r"^\d+(\.\d{1,2})?$")
    currency: str = Field(default="usd", pattern=r"^[a-z]{3}$")
    connector: str = "Default"
    description: str | None = None
    timeout_seconds: int = Field(default=10, ge=3, le=60)
    max_attempts: int = Field(default=3, ge=1, le=5)


class Hangup(_Instruction):
    kind: Literal["hangup"] = "hangup"


Instruction = Annotated[
    Say | Play | Pause | Gather | Dial | Conference | Record | Pay | Hangup,
    Field(discriminator="kind"),
]
"""One provider-neutral step; a call runs a list of them in order."""


class InstructionList(BaseModel):
    """Parses and serializes a list of instructions (``InstructionList(steps=[...])``)."""

    steps: list[Instruction] = Field(default_factory=list, max_length=100)


# --- Requests to the provider --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallRef:
    """A call as the provider needs to see it."""

    id: uuid.UUID
    provider_call_id: str | None
    direction: Direction
    status: CallStatus
    from_number: str
    to_number: str


@dataclass(frozen=True, slots=True)
class PlaceCall:
    call_id: uuid.UUID
    from_number: str
    to_number: str
    timeout_seconds: int = 30
    """Ring this long before giving up (no-answer)."""
    record: bool = False
    machine_detection: bool = False
    """Synchronous detection where the provider has it (Twilio: the answer says who
    answered, after a few seconds of silence; others report it as :attr:`detection` does).
    Superseded by :attr:`detection` when that is not ``off``."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Provider-specific options from the request (``loopback``'s scripted callee)."""
    detection: MachineDetection = MachineDetection.OFF
    """Asynchronous detection: the call is connected at once and the verdict arrives later
    as :class:`MachineDetected` (needs :attr:`Capability.MACHINE_DETECTION`)."""


@dataclass(frozen=True, slots=True)
class PlacedCall:
    provider_call_id: str
    status: CallStatus = CallStatus.INITIATED


class Action(enum.StrEnum):
    HANGUP = "hangup"
    TRANSFER = "transfer"
    HOLD = "hold"
    UNHOLD = "unhold"
    MUTE = "mute"
    UNMUTE = "unmute"
    SEND_DTMF = "send-dtmf"
    START_RECORDING = "start-recording"
    PAUSE_RECORDING = "pause-recording"
    RESUME_RECORDING = "resume-recording"
    STOP_RECORDING = "stop-recording"


@dataclass(frozen=True, slots=True)
class ControlCall:
    call: CallRef
    action: Action
    command_id: str
    """Unique per request: the provider may use it to ignore a repeated command (Telnyx)."""
    target: str | None = None
    """TRANSFER: the E.164 number to transfer to."""
    digits: str | None = None
    """SEND_DTMF: ``0-9*#`` and ``w`` (half-second wait)."""
    caller_id: str | None = None


@dataclass(frozen=True, slots=True)
class SuperviseMember:
    """Change a supervisor's role in a live conference it is a member of."""

    call: CallRef
    """The supervisor's leg."""
    conference: str
    """The conference's name (:attr:`Conference.name`)."""
    role: SupervisorRole
    coach_call_id: str | None
    """The provider call id of the leg a whisper is heard by (the agent's); required for
    :attr:`SupervisorRole.WHISPER`."""
    command_id: str
    """Unique per request: the provider may use it to ignore a repeated command (Telnyx)."""


class CaptureField(enum.StrEnum):
    """A piece of card data an agent-assisted capture asks the caller to key."""

    CARD_NUMBER = "payment-card-number"
    EXPIRATION_DATE = "expiration-date"
    SECURITY_CODE = "security-code"
    POSTAL_CODE = "postal-code"


@dataclass(frozen=True, slots=True)
class StartCapture:
    """Open an agent-assisted capture session on a live call: nothing is asked of the
    caller yet (:class:`UpdateCapture` asks for each field)."""

    call: CallRef
    idempotency_key: str
    """The same key names the same session (a retried request opens nothing new)."""
    amount: str
    """In major units (``"25.00"``): what the connector charges on completion."""
    currency: str
    """ISO 4217, lower case."""
    connector: str = "Default"
    description: str | None = None
    timeout_seconds: int = 10
    postal_code: bool = True
    """Whether the connector needs the postal code."""
    security_code: bool = True


@dataclass(frozen=True, slots=True)
class UpdateCapture:
    """Drive an open capture session: ask the caller for ``capture`` (again, for a retry),
    or end it: ``complete`` (the connector charges; the outcome arrives as a
    :class:`PaymentProgress` with ``capture``) or ``cancel``. Exactly one of the two."""

    call: CallRef
    session_id: str
    """The provider's id of the session (:meth:`TelephonyProvider.start_capture`)."""
    idempotency_key: str
    capture: CaptureField | None = None
    status: Literal["complete", "cancel"] | None = None


@dataclass(frozen=True, slots=True)
class RecordingRef:
    provider_recording_id: str
    provider_call_id: str | None
    media_ref: str | None
    """What the provider gave to fetch the media (a URL), never shown to clients."""


@dataclass(frozen=True, slots=True)
class RecordingAudio:
    content_type: str
    chunks: AsyncIterator[bytes]
    size: int | None = None


# --- Webhooks ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """A provider's HTTP request to ``/webhooks/<provider>/<tenant id>/<kind>``."""

    kind: str
    """The last path segment: which callback it is (``status``, ``voice``, ``recording``...)."""
    method: str
    url: str
    """The public URL the provider called (rebuilt from ``X-Forwarded-*`` behind a proxy)."""
    headers: Mapping[str, str]
    """Lower-case names."""
    body: bytes
    form: Mapping[str, str] | None = None
    """The decoded form fields when the body is form-encoded (Twilio)."""
    query: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CallProgress:
    """The call moved (or was reported again: ``calls`` drops what does not move it forward)."""

    provider_call_id: str
    status: CallStatus
    occurred_at: datetime | None = None
    sequence: int | None = None
    """The provider's per-call order of callbacks, when it sends one (Twilio SequenceNumber)."""
    direction: Direction | None = None
    from_number: str | None = None
    to_number: str | None = None
    answered_by: AnsweredBy | None = None
    hangup_cause: str | None = None
    duration_seconds: int | None = None
    parent_provider_call_id: str | None = None


@dataclass(frozen=True, slots=True)
class MachineDetected:
    """Asynchronous answering-machine detection's verdict on an answered call
    (:attr:`PlaceCall.detection`). A provider may report twice: the verdict, then (with
    ``detect-message-end``) the end of a machine's greeting with ``greeting_ended``."""

    provider_call_id: str
    answered_by: AnsweredBy
    greeting_ended: bool = False
    """A machine's greeting is over (a message left now is recorded)."""
    beep: bool | None = None
    """With ``greeting_ended``: whether a beep ended the greeting (None: not told)."""
    detection_ms: int | None = None
    """How long detection took, when the provider says."""
    occurred_at: datetime | None = None


DIAL_STATUSES = frozenset(
    {
        CallStatus.COMPLETED,
        CallStatus.BUSY,
        CallStatus.NO_ANSWER,
        CallStatus.FAILED,
        CallStatus.CANCELED,
    }
)
"""How a dialled leg can end (:attr:`InstructionsNeeded.dial_status`)."""


CaptureStatus = Literal["succeeded", "failed", "cancelled"]


@dataclass(frozen=True, slots=True)
class PaymentCapture:
    """How a :class:`Pay` step ended, as the provider's secure capture reports it. Never
    card data: the connector's confirmation of a charge, or the token of a tokenization."""

    status: CaptureStatus
    result: str
    """The provider's own result code (Twilio ``too-many-failed-attempts``, Telnyx
    ``payment-connector-error``...)."""
    confirmation: str | None = None
    """The processor's id of the charge the connector made (Stripe ``pi_``/``ch_``)."""
    token: str | None = None
    error: str | None = None
    """The provider's or connector's error code or message, when it failed."""


@dataclass(frozen=True, slots=True)
class InstructionsNeeded:
    """The provider asks what the call does next: it was answered (or arrived, inbound), a
    gather finished (``digits`` or ``speech``; neither: no input), a record or pay step
    ended (document-style providers), a :class:`Dial` with ``report_outcome`` ended
    (``dialed``, with ``dial_status``), or a command-style provider finished a step and
    carries the rest (``instructions``)."""

    provider_call_id: str
    reason: Literal["answered", "inbound", "gathered", "dialed", "continue"]
    digits: str | None = None
    speech: str | None = None
    """``gathered``: what the caller said, as the provider's recognizer heard it."""
    confidence: float | None = None
    """The recognizer's confidence in ``speech`` (0 to 1), when it gives one."""
    instructions: tuple[Any, ...] | None = None
    """``continue``: the instructions still to run."""
    dial_status: CallStatus | None = None
    """``dialed``: how the dialled leg ended: ``completed`` (it answered; the conversation
    is over), ``busy``, ``no-answer``, ``failed`` or ``canceled``."""
    payment: PaymentCapture | None = None
    """``gathered`` after a :class:`Pay` step: how the secure capture ended."""
    direction: Direction | None = None
    from_number: str | None = None
    to_number: str | None = None


@dataclass(frozen=True, slots=True)
class PaymentProgress:
    """A secure capture moved on: the caller keyed into a field (``partial`` while keying),
    finished one (``error`` when the provider found it invalid), or the capture ended
    (``capture``: the connector's outcome). From an agent-assisted session (``session_id``)
    or a :class:`Pay` step's progress (no session). Never card data: a count of digits and
    a mask the provider plugin builds itself (at most a card number's last four digits)."""

    provider_call_id: str
    session_id: str | None = None
    field: CaptureField | None = None
    partial: bool = False
    digits: int = 0
    """How many digits the caller has keyed into ``field``."""
    masked: str | None = None
    """``field`` as the agent may see it (``xxxxxxxxxxxx4242``, ``xxxx``)."""
    card_type: str | None = None
    required: tuple[str, ...] = ()
    """The fields still to key, as the provider says."""
    error: str | None = None
    """Why the provider refused what was keyed (``invalid-card-number``...)."""
    capture: PaymentCapture | None = None
    occurred_at: datetime | None = None


RecordingStatus = Literal["in-progress", "paused", "completed", "failed", "deleted"]


@dataclass(frozen=True, slots=True)
class RecordingProgress:
    provider_call_id: str
    provider_recording_id: str
    status: RecordingStatus
    occurred_at: datetime | None = None
    duration_seconds: int | None = None
    channels: int | None = None
    media_ref: str | None = None
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class TranscriptSegment:
    provider_call_id: str
    text: str
    speaker: str = "unknown"
    """``caller``, ``callee``, ``agent``, ``customer`` or ``unknown``."""
    confidence: float | None = None
    start_seconds: float | None = None
    end_seconds: float | None = None
    final: bool = True
    sequence: int | None = None
    occurred_at: datetime | None = None


NormalizedEvent = (
    CallProgress
    | InstructionsNeeded
    | RecordingProgress
    | TranscriptSegment
    | MachineDetected
    | PaymentProgress
)


@dataclass(frozen=True, slots=True)
class ParsedWebhook:
    dedupe_key: str
    """The provider's id for this delivery; a second delivery with the same key is a duplicate."""
    events: Sequence[NormalizedEvent]
    payload: Mapping[str, Any]
    """The payload as it is kept (redacted: no card data, no credentials)."""


@dataclass(frozen=True, slots=True)
class WebhookAnswer:
    """What the webhook's HTTP response carries back to the provider."""

    body: bytes = b""
    content_type: str = "text/plain"
    status_code: int = 200


class WebhookRejected(Exception):
    """The webhook is unsigned, forged, stale or replayed: answered 403, nothing changes."""


class WebhookMalformed(Exception):
    """The webhook is signed but cannot be understood: answered 400, nothing changes."""


class ProviderRefused(Exception):
    """The provider refused a request (bad number, unverified caller id...): a 4xx that no
    retry or failover will fix. ``detail`` is safe to show to the tenant."""

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code


class UnsupportedAction(Exception):
    """The provider cannot do this (capability missing)."""


class CallLost(ProviderRefused):
    """The provider no longer has the call and cannot say how it ended: it never heard of
    it, forgot it, or the carrier that ran it is gone (a loopback call whose process died).
    ``calls`` then ends the call as failed, with ``code`` as its reason
    (``unknown-at-provider``, ``carrier-lost``)."""


# --- The provider --------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderContext:
    """What a provider object gets: the tenant it works for and the platform's helpers."""

    platform: Platform
    tenant_id: uuid.UUID
    provider: str
    """The provider's name (its webhook path segment, its breaker's dependency name)."""
    plugin: str
    """The plugin that declared the provider (reads the vault as this plugin)."""
    public_base_url: str
    """Where providers reach the platform (``KRALIKI_CALLS_PUBLIC_BASE_URL``)."""
    webhook_prefix: str
    """The provider plugin's route prefix (its webhooks are under ``/webhooks/<prefix>``)."""
    call_id: uuid.UUID | None = None
    """The call this use is about (placing, controlling), when there is one."""
    webhook_session: AsyncSession | None = field(default=None, repr=False, compare=False)
    """The session of the webhook being verified, when this use is one: :meth:`secret` then
    reads through the worker's cache of decrypted secrets (``Vault.reveal_cached``),
    checked against the stored version in this session's transaction."""

    def webhook_url(self, kind: str) -> str:
        """The URL the provider must call for a callback of ``kind``.

        When the context is about a call, the URL carries its id (``?call=<id>``): a
        provider's first callbacks may arrive before its answer to "place the call" does,
        and the id lets the platform match them to the call all the same.
        """
        base = self.public_base_url.rstrip("/")
        url = f"{base}/webhooks/{self.webhook_prefix}/{self.tenant_id}/{kind}"
        return f"{url}?call={self.call_id}" if self.call_id is not None else url

    async def secret(self, name: str, *, purpose: str) -> SecretValue | None:
        """Decrypt one of the tenant's secrets for immediate use (audited); None when unset.

        Verifying a webhook, the value may come from the worker's cache (audited when it was
        filled, docs/adr/0034); otherwise each call is one audited decryption."""
        if self.webhook_session is not None:
            with tenant_scope(self.tenant_id):
                return await self.platform.vault.reveal_cached(
                    self.webhook_session, name, plugin=self.plugin, purpose=purpose
                )
        return await self.platform.vault.reveal(
            name, plugin=self.plugin, purpose=purpose, tenant_id=self.tenant_id
        )

    async def call(
        self,
        operation: Callable[[], Awaitable[T]],
        *,
        timeout: float | None = None,  # noqa: ASYNC109 (per attempt)
        attempts: int | None = None,
        classify: Classifier | None = None,
    ) -> T:
        """Run one REST operation against the provider through ``platform.resilience``."""
        return await self.platform.resilience.call(
            self.provider,
            operation,
            tenant_id=self.tenant_id,
            timeout=timeout,
            attempts=attempts,
            classify=classify,
        )


class TelephonyProvider(abc.ABC):
    """Base class of a provider. One object serves one tenant for one use; keep no state
    between uses beyond what the constructor derives from the context."""

    style: ClassVar[Literal["document", "commands"]] = "document"
    """``document``: :meth:`execute` answers the webhook with the instructions (TwiML);
    ``commands``: :meth:`execute` sends commands and answers with nothing."""

    def __init__(self, context: ProviderContext) -> None:
        self.context = context

    @abc.abstractmethod
    async def place_call(self, request: PlaceCall) -> PlacedCall:
        """Hand an outbound call to the provider. Raise :class:`ProviderRefused` for a
        refusal; transient failures propagate through :meth:`ProviderContext.call`."""

    @abc.abstractmethod
    async def control(self, request: ControlCall) -> None:
        """Act on a live call. Raise :class:`UnsupportedAction` when the provider cannot."""

    @abc.abstractmethod
    async def verify_webhook(self, webhook: WebhookRequest) -> None:
        """Raise :class:`WebhookRejected` unless the request is authentic and fresh."""

    @abc.abstractmethod
    def parse_webhook(self, webhook: WebhookRequest) -> ParsedWebhook:
        """Turn a verified request into normalized events (raise :class:`WebhookMalformed`)."""

    @abc.abstractmethod
    async def execute(self, call: CallRef, instructions: Sequence[Any]) -> WebhookAnswer:
        """Run instructions on the call: return them as the webhook answer (document style)
        or issue them as commands and return an empty answer (commands style)."""

    @abc.abstractmethod
    async def call_state(self, call: CallRef) -> CallProgress | None:
        """Where the call is now, as the provider has it (reconciliation asks this of calls
        it has not heard of for a while, and hang-up asks it of a call the provider refused
        to hang up).

        Return a :class:`CallProgress` (a final status when the call ended; the status
        the call still has otherwise), or None when the provider holds the call but cannot
        tell more from here (it is alive). Raise :class:`CallLost` when the provider no
        longer has it; transient failures propagate through :meth:`ProviderContext.call`
        (the call is left as it is and asked about again later). ``calls`` applies the
        answer through the same status machine as a webhook: it never moves a call back.
        """

    async def redirect(self, call: CallRef, instructions: Sequence[Any]) -> None:
        """Replace whatever the live call is doing now with ``instructions`` (a caller on
        hold music moved into a conference): what runs is stopped, its result (an open
        gather's) is never reported, and the instructions run as :meth:`execute` would run
        them. Raise :class:`UnsupportedAction` when the provider cannot,
        :class:`ProviderRefused` when it refuses (the call ended there)."""
        raise UnsupportedAction(f"{self.context.provider} cannot redirect a live call")

    async def supervise(self, request: SuperviseMember) -> None:
        """Change the role of a supervisor already in a live conference (monitor, whisper,
        barge): from now on it hears and is heard as :attr:`Conference.supervisor`
        describes. Raise :class:`UnsupportedAction` when the provider cannot,
        :class:`ProviderRefused` when it refuses (no such live conference, the supervisor
        is not in it)."""
        raise UnsupportedAction(f"{self.context.provider} cannot change a supervisor's role")

    async def start_capture(self, request: StartCapture) -> str:
        """Open an agent-assisted capture session on the live call and return the
        provider's id of it; its progress arrives as :class:`PaymentProgress` webhooks. Raise
        :class:`UnsupportedAction` when the provider cannot (no
        :attr:`Capability.AGENT_PAYMENTS`), :class:`ProviderRefused` when it refuses (the
        call ended, a session is already open)."""
        raise UnsupportedAction(f"{self.context.provider} has no agent-assisted capture")

    async def update_capture(self, request: UpdateCapture) -> None:
        """Ask the caller for a field of an open session, or complete or cancel it."""
        raise UnsupportedAction(f"{self.context.provider} has no agent-assisted capture")

    async def recording_audio(self, recording: RecordingRef) -> RecordingAudio:
        """Stream a recording's media with the tenant's credentials."""
        raise UnsupportedAction(f"{self.context.provider} cannot stream recordings")

    async def delete_recording(self, recording: RecordingRef) -> None:
        """Delete the media at the provider (retention); default: nothing to delete there."""
        return None

    def empty_answer(self) -> WebhookAnswer:
        """What a webhook that needs no instructions is answered with."""
        return WebhookAnswer()


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """A provider a plugin contributes through ``kraliki_telephony_providers``."""

    name: str
    """Lower case; the webhook path segment and the breaker's dependency (``twilio``)."""
    factory: Callable[[ProviderContext], TelephonyProvider]
    capabilities: frozenset[Capability]
    secrets: tuple[str, ...] = ()
    """Vault secrets the tenant must store before the provider can be used."""
    description: str = ""
    default_calls_per_second: float = 1.0
    """The provider's usual limit of new calls per second per account (Twilio: 1)."""
