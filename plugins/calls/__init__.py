"""The public API of the ``calls`` plugin: what other plugins (and their tests) may import.

Everything here is stable for plugin authors; every other module of ``plugins.calls`` is
private and the import contract (``tests/test_import_contract.py``) refuses imports of it from
outside the plugin. Three groups:

* the telephony provider contract a provider plugin implements (Twilio, Telnyx, loopback,
  yours) and :func:`build_provider` to get a provider for one tenant (a credential check);
* the call handler contract a plugin implements to drive calls (the IVR, queues, campaigns),
  and what such a plugin may do to calls: place one (:func:`place_call` with a
  :class:`CallRequest`), redirect a live one (:func:`redirect_call`), change a supervisor's
  role in an agent's conference (:func:`supervise_call`), hang one up
  (:func:`hang_up_call`), hand a call over to another handler within a turn
  (:func:`hand_over`);
* the calls' own models and permissions, which plugins that build on calls read and grant.

The hook implementations live in :mod:`plugins.calls.plugin` (the entry point); test helpers
in :mod:`plugins.calls.testing`. See ``docs/plugins/calls.md`` and ``docs/providers.md``.
"""

from __future__ import annotations

from plugins.calls.control import hang_up_call
from plugins.calls.handlers import (
    CallHandler,
    CallInput,
    CallTurn,
    HandledCall,
    HandlerSpec,
    TurnReason,
    routed_numbers,
    target_providers,
)
from plugins.calls.handover import hand_over
from plugins.calls.models import (
    Call,
    CallEvent,
    CallSettingsRow,
    PhoneNumber,
    Recording,
    TranscriptSegmentRow,
    WebhookReceipt,
)
from plugins.calls.outcome import set_call_outcome
from plugins.calls.permissions import (
    CALLS_CONTROL,
    CALLS_CREATE,
    CALLS_FORCE_END,
    CALLS_READ,
    CALLS_RECORD,
    CALLS_TRANSFER,
    CALLS_UPDATE,
    NUMBERS_READ,
    NUMBERS_WRITE,
    PERMISSIONS,
    RECORDINGS_DELETE,
    RECORDINGS_READ,
    SETTINGS_READ,
    SETTINGS_WRITE,
)
from plugins.calls.phone import is_sip_uri
from plugins.calls.placing import CallRequest, place_call
from plugins.calls.provider import (
    DIAL_STATUSES,
    TERMINAL_STATUSES,
    Action,
    AnsweredBy,
    CallLost,
    CallProgress,
    CallRef,
    CallStatus,
    Capability,
    Conference,
    ControlCall,
    Dial,
    Direction,
    Gather,
    Hangup,
    Instruction,
    InstructionList,
    InstructionsNeeded,
    MachineDetected,
    MachineDetection,
    NormalizedEvent,
    ParsedWebhook,
    Pause,
    Pay,
    PlaceCall,
    PlacedCall,
    Play,
    ProviderContext,
    ProviderRefused,
    ProviderSpec,
    Record,
    RecordingAudio,
    RecordingProgress,
    RecordingRef,
    RecordingStatus,
    Say,
    SuperviseMember,
    SupervisorRole,
    TelephonyProvider,
    TranscriptSegment,
    UnsupportedAction,
    WebhookAnswer,
    WebhookMalformed,
    WebhookRejected,
    WebhookRequest,
)
from plugins.calls.redirect import redirect_call
from plugins.calls.registry import build_provider, installed_providers
from plugins.calls.supervising import supervise_call
from plugins.calls.webhooks import provider_webhook_router

__all__ = [
    "CALLS_CONTROL",
    "CALLS_CREATE",
    "CALLS_FORCE_END",
    "CALLS_READ",
    "CALLS_RECORD",
    "CALLS_TRANSFER",
    "CALLS_UPDATE",
    "DIAL_STATUSES",
    "NUMBERS_READ",
    "NUMBERS_WRITE",
    "PERMISSIONS",
    "RECORDINGS_DELETE",
    "RECORDINGS_READ",
    "SETTINGS_READ",
    "SETTINGS_WRITE",
    "TERMINAL_STATUSES",
    "Action",
    "AnsweredBy",
    "Call",
    "CallEvent",
    "CallHandler",
    "CallInput",
    "CallLost",
    "CallProgress",
    "CallRef",
    "CallRequest",
    "CallSettingsRow",
    "CallStatus",
    "CallTurn",
    "Capability",
    "Conference",
    "ControlCall",
    "Dial",
    "Direction",
    "Gather",
    "HandledCall",
    "HandlerSpec",
    "Hangup",
    "Instruction",
    "InstructionList",
    "InstructionsNeeded",
    "MachineDetected",
    "MachineDetection",
    "NormalizedEvent",
    "ParsedWebhook",
    "Pause",
    "Pay",
    "PhoneNumber",
    "PlaceCall",
    "PlacedCall",
    "Play",
    "ProviderContext",
    "ProviderRefused",
    "ProviderSpec",
    "Record",
    "Recording",
    "RecordingAudio",
    "RecordingProgress",
    "RecordingRef",
    "RecordingStatus",
    "Say",
    "SuperviseMember",
    "SupervisorRole",
    "TelephonyProvider",
    "TranscriptSegment",
    "TranscriptSegmentRow",
    "TurnReason",
    "UnsupportedAction",
    "WebhookAnswer",
    "WebhookMalformed",
    "WebhookReceipt",
    "WebhookRejected",
    "WebhookRequest",
    "build_provider",
    "hand_over",
    "hang_up_call",
    "installed_providers",
    "is_sip_uri",
    "place_call",
    "provider_webhook_router",
    "redirect_call",
    "routed_numbers",
    "set_call_outcome",
    "supervise_call",
    "target_providers",
]
