"""Problem types of campaign management (RFC 9457, ``/problems/<slug>``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kernel import define_problem

CAMPAIGN_NOT_FOUND = define_problem(
    "campaigns-campaign-not-found",
    "Campaign not found",
    404,
    "No campaign of your organization has this id.",
)
CAMPAIGN_INVALID = define_problem(
    "campaigns-campaign-invalid",
    "Invalid campaign",
    422,
    "Some of the campaign's values cannot be accepted; `errors` lists each with its `loc` and "
    "`message` (a segment, contact, queue, team or flow that does not exist, a caller id that "
    "is not one of your numbers, an unknown consent purpose, a setting the mode needs).",
)
CAMPAIGN_EXISTS = define_problem(
    "campaigns-campaign-exists",
    "Campaign exists",
    409,
    "The organization already has a campaign of this name.",
)
CAMPAIGN_CHANGED = define_problem(
    "campaigns-campaign-changed",
    "Campaign changed",
    412,
    "The campaign changed since you read it (`If-Match` names an older version); read it "
    "again, apply your change to what it is now, and send it with the new `ETag`.",
)
CAMPAIGN_LOCKED = define_problem(
    "campaigns-campaign-locked",
    "Campaign cannot change so",
    409,
    "The campaign's state does not allow this change (`state`, `fields`): while it is active, "
    "what decides who is called and on what grounds is fixed (pause it first); a completed or "
    "archived campaign no longer changes; only a draft is deleted (one that dialled keeps its "
    "records: archive it).",
)
TRANSITION_REFUSED = define_problem(
    "campaigns-transition-refused",
    "Campaign state change refused",
    409,
    "The campaign cannot go from its state (`state`) to the one asked (`to`); "
    "`docs/plugins/campaigns.md` draws the states.",
)
CANNOT_ACTIVATE = define_problem(
    "campaigns-cannot-activate",
    "Campaign cannot be activated",
    422,
    "The campaign is not ready to dial; `errors` lists what is missing (`loc`, `message`): no "
    "contacts, a caller id that is no longer the organization's, a predictive campaign "
    "without the abandoned-call message, an end date in the past, ...",
)

NO_AGENT_PROFILE = define_problem(
    "campaigns-no-agent",
    "No agent profile",
    404,
    "Working campaigns (preview, seats) is for agents: your user has no agent profile (or it "
    "is inactive).",
)
NOT_YOUR_CAMPAIGN = define_problem(
    "campaigns-not-your-campaign",
    "Not your campaign",
    403,
    "You do not work this campaign: you are neither a member of its team nor an agent of its "
    "queue.",
)
SEAT_REFUSED = define_problem(
    "campaigns-seat-refused",
    "Seat refused",
    409,
    "You cannot take a seat in this campaign now; `reason` says why: `not_active` (the "
    "campaign is not active), `mode` (only progressive and predictive campaigns have seats), "
    "`not_available` (your presence is not `available`), `seated` (you already have a seat: "
    "`seat_id`), `provider` (a loopback agent on a campaign whose caller id is not a loopback "
    "number, or the reverse).",
)
SEAT_NOT_FOUND = define_problem(
    "campaigns-seat-not-found",
    "Seat not found",
    404,
    "The campaign has no seat of this id that you may see or end.",
)
ATTEMPT_NOT_FOUND = define_problem(
    "campaigns-attempt-not-found",
    "Attempt not found",
    404,
    "The campaign has no attempt with this id.",
)
ATTEMPT_NOT_ANSWERED = define_problem(
    "campaigns-attempt-not-answered",
    "Attempt not answered",
    409,
    "Only an answered attempt (a person or a machine picked up) takes a disposition; "
    "`attempt_status` and `outcome` say where this one stands.",
)
ATTEMPT_NOT_YOURS = define_problem(
    "campaigns-attempt-not-yours",
    "Not your call",
    403,
    "An agent disposes only the attempts connected to their own agent profile; supervisors "
    "and administrators (`campaigns.dispositions:all`) dispose any.",
)
DISPOSITION_UNKNOWN = define_problem(
    "campaigns-disposition-unknown",
    "Unknown disposition",
    422,
    "The disposition is not one of the campaign's `dispositions`; `errors` has its `loc` and "
    "`message` (which names the campaign's dispositions).",
)


def located(errors: Sequence[Mapping[str, Any]], where: str = "body") -> list[dict[str, Any]]:
    """Errors in the shape of every 422 (``loc`` and ``message``)."""
    return [
        {"loc": [where, *error["loc"]], "message": error["message"], "type": error.get("type")}
        for error in errors
    ]
