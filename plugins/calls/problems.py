"""Problem types of the calls plugin (RFC 9457, ``/problems/<slug>``)."""

from __future__ import annotations

from kernel import define_problem

CALL_NOT_FOUND = define_problem(
    "calls-call-not-found", "Call not found", 404, "No call of your organization has this id."
)
RECORDING_NOT_FOUND = define_problem(
    "calls-recording-not-found",
    "Recording not found",
    404,
    "No recording of this call has this id (or its audio was deleted by retention).",
)
NUMBER_NOT_FOUND = define_problem(
    "calls-number-not-found",
    "Phone number not found",
    404,
    "No phone number of your organization has this id.",
)
INVALID_NUMBER = define_problem(
    "calls-invalid-number",
    "Invalid phone number",
    422,
    "A phone number is not a valid number in E.164 form (`+` and country code); `field` "
    "says which.",
)
NUMBER_EXISTS = define_problem(
    "calls-number-exists", "Phone number exists", 409, "The organization already has this number."
)
CALL_STATE_CONFLICT = define_problem(
    "calls-call-state-conflict",
    "Action not allowed in the call's state",
    409,
    "The call's status (or hold, mute or recording state) does not allow this action; "
    "`call_status` gives the call's current status.",
)
CAPABILITY_MISSING = define_problem(
    "calls-capability-missing",
    "Provider cannot do this",
    409,
    "The call's provider does not offer this capability (`capability`).",
)
UNKNOWN_PROVIDER = define_problem(
    "calls-unknown-provider",
    "Unknown telephony provider",
    422,
    "No installed provider has this name; `providers` lists those that are.",
)
PROVIDER_NOT_CONFIGURED = define_problem(
    "calls-provider-not-configured",
    "Provider not configured",
    409,
    "The provider needs secrets the organization has not stored in the vault (`missing`).",
)
PROVIDER_REFUSED = define_problem(
    "calls-provider-refused",
    "The provider refused the request",
    422,
    "The telephony provider refused the request (an invalid or unverified number, a blocked "
    "destination...); `detail` and `provider_code` say why. Retrying will not help.",
)
PROVIDER_UNAVAILABLE = define_problem(
    "calls-provider-unavailable",
    "Telephony provider unavailable",
    503,
    "The provider did not answer (after retries), or its circuit is open, and no secondary "
    "provider could take the call. Retry later.",
)
CONCURRENCY_LIMIT = define_problem(
    "calls-concurrency-limit",
    "Too many concurrent calls",
    429,
    "The organization has as many active calls as its limit allows (`limit`); wait for one to end.",
)
RATE_LIMITED = define_problem(
    "calls-rate-limited",
    "Calls per second exceeded",
    429,
    "New calls on this provider are paced (`calls_per_second`); retry after `Retry-After`.",
)
WEBHOOK_SIGNATURE_INVALID = define_problem(
    "calls-webhook-signature-invalid",
    "Webhook signature invalid",
    403,
    "The provider webhook is unsigned, forged, stale or signed for another organization; "
    "nothing was changed.",
)
WEBHOOK_MALFORMED = define_problem(
    "calls-webhook-malformed",
    "Webhook malformed",
    400,
    "The provider webhook is authentic but cannot be understood, or carries a value no field "
    "can hold (it is kept as rejected); nothing was changed.",
)
WEBHOOK_TOO_LARGE = define_problem(
    "calls-webhook-too-large",
    "Webhook too large",
    413,
    "The webhook body exceeds KRALIKI_CALLS_MAX_WEBHOOK_BYTES.",
)
WEBHOOK_NOT_FOUND = define_problem(
    "calls-webhook-not-found",
    "No such webhook",
    404,
    "The webhook URL names no provider, callback or organization that takes calls here.",
)
BAD_TAG = define_problem(
    "calls-bad-tag",
    "Invalid tag",
    422,
    "Tags are 1-40 characters of letters, digits and `_ . : -`.",
)
HANDLER_UNAVAILABLE = define_problem(
    "calls-handler-unavailable",
    "Call handler unavailable",
    422,
    "The route or flow names a call handler (such as the IVR) that is not installed or "
    "cannot run this target; `detail` says why.",
)
