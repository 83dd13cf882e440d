"""Problem types of preview mode (RFC 9457, ``/problems/<slug>``)."""

from __future__ import annotations

from kernel import define_problem
from plugins.campaigns.problems import NO_AGENT_PROFILE, NOT_YOUR_CAMPAIGN

NO_AGENT = NO_AGENT_PROFILE
NOT_ELIGIBLE = NOT_YOUR_CAMPAIGN
UNAVAILABLE = define_problem(
    "campaigns-preview-unavailable",
    "Not an active preview campaign",
    409,
    "The campaign is not in `preview` mode, or not `active` (`mode`, `state`).",
)
NOT_FOUND = define_problem(
    "campaigns-preview-not-found",
    "Preview not found",
    404,
    "No attempt of this campaign previewed by you has this id.",
)
OVER = define_problem(
    "campaigns-preview-over",
    "Preview over",
    409,
    "The attempt is no longer being previewed (`attempt_status`): it was called, skipped or "
    "rescheduled already.",
)
BLOCKED = define_problem(
    "campaigns-preview-blocked",
    "The dial is not allowed now",
    409,
    "The check before the dial, run again when you started the call, refused it (`rule`, "
    "`next_allowed_at`): the attempt ended `blocked` and the contact is scheduled for when "
    "the time rules allow, or blocked for good. Ask for the next contact.",
)
AGENT_BUSY = define_problem(
    "campaigns-preview-agent-busy",
    "You cannot take a call now",
    409,
    "Your presence (`state`) does not allow a call: be `available` (or in wrap-up) to start one.",
)
INVALID_CALLBACK = define_problem(
    "campaigns-preview-invalid-callback",
    "Invalid callback time",
    422,
    "A callback is for a moment in the future, within 90 days; `errors` says which (`loc`, "
    "`message`).",
)
