"""Problem types of the agents plugin (RFC 9457, ``/problems/<slug>``)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from kernel import define_problem

AGENT_NOT_FOUND = define_problem(
    "agents-agent-not-found",
    "Agent not found",
    404,
    "No agent you can reach has this id: none of your organization, or one outside the "
    "teams you lead (without `agents:all`).",
)
NO_PROFILE = define_problem(
    "agents-no-profile",
    "No agent profile",
    404,
    "You have no agent profile in this organization; an administrator creates one for your user.",
)
INVALID_AGENT = define_problem(
    "agents-invalid-agent",
    "Invalid agent",
    422,
    "Some of the agent's values cannot be accepted; `errors` lists each with `loc` and "
    "`message` (a user that is not of your organization, a number that is not E.164, a "
    "team you do not lead, more than one call at a time, ...).",
)
AGENT_EXISTS = define_problem(
    "agents-agent-exists",
    "Agent exists",
    409,
    "This user already has an agent profile (`agent_id`); a user works as one agent.",
)
AGENT_CHANGED = define_problem(
    "agents-agent-changed",
    "Agent changed",
    412,
    "The agent's profile changed since you read it (`If-Match` names an older version, "
    "`current_version` is the current one); read it again and reapply your change.",
)
AGENT_BUSY = define_problem(
    "agents-agent-busy",
    "Agent busy",
    409,
    "The agent is being offered a call or is on one (`state`); delete the profile once the "
    "call is over.",
)
TRANSITION_REFUSED = define_problem(
    "agents-transition-refused",
    "State change refused",
    409,
    "The agent cannot move from `from` to `to` this way (see the transition table in the "
    "agents guide), or `away` lacks one of the organization's active reason codes; `detail` "
    "says which.",
)
NO_CALL = define_problem(
    "agents-no-call",
    "No call to wrap up",
    409,
    "You are not on or wrapping up a call, and `call_id` names none of the calls you handled.",
)
REASON_CODE_NOT_FOUND = define_problem(
    "agents-reason-code-not-found",
    "Reason code not found",
    404,
    "Your organization has no away reason code with this id.",
)
REASON_CODE_EXISTS = define_problem(
    "agents-reason-code-exists",
    "Reason code exists",
    409,
    "Your organization already has this reason code, or it is the built-in `missed`.",
)
TEAM_NOT_FOUND = define_problem(
    "agents-team-not-found",
    "Team not found",
    404,
    "No team of your organization has this id.",
)
TEAM_EXISTS = define_problem(
    "agents-team-exists",
    "Team exists",
    409,
    "Your organization already has a team of this name.",
)
TEAM_CHANGED = define_problem(
    "agents-team-changed",
    "Team changed",
    412,
    "The team changed since you read it (`If-Match` names an older version, "
    "`current_version` is the current one); read it again and reapply your change.",
)
INVALID_TEAM = define_problem(
    "agents-invalid-team",
    "Invalid team",
    422,
    "Some ids name no agent or no user of your organization; `errors` lists each with `loc` "
    "and `message`, and nothing was changed.",
)


def located(errors: Sequence[Mapping[str, Any]], where: str = "body") -> list[dict[str, Any]]:
    """Errors of a 422 in the shape every 422 of the API has (``loc`` and ``message``),
    keeping ``field`` and ``reason``: ``skills[1].level`` becomes
    ``["body", "skills", 1, "level"]``."""
    out = []
    for error in errors:
        path: list[str | int] = [where]
        for part in re.findall(r"[^.\[\]]+", str(error.get("field", ""))):
            path.append(int(part) if part.isascii() and part.isdigit() else part)
        message = error.get("reason") or error.get("message") or ""
        out.append({"loc": path, "message": message, **error})
    return out
