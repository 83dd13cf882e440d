"""Problem types of the supervisor plugin (RFC 9457, ``/problems/<slug>``)."""

from __future__ import annotations

from kernel import define_problem

AGENT_NOT_FOUND = define_problem(
    "supervisor-agent-not-found",
    "Agent not found",
    404,
    "No agent you supervise has this id (you supervise the agents of the teams you lead; "
    "agents:all: everyone).",
)
NOT_ON_CALL = define_problem(
    "supervisor-agent-not-on-call",
    "Agent not on a call",
    409,
    "The agent has no live call to supervise now (`state` says where they are).",
)
SESSION_NOT_FOUND = define_problem(
    "supervisor-session-not-found",
    "Supervision session not found",
    404,
    "No supervision session of your organization has this id.",
)
SESSION_CONFLICT = define_problem(
    "supervisor-session-conflict",
    "Supervision session conflict",
    409,
    "You already supervise a call (`session_id`): end it or switch its mode; or the session "
    "is not in a state that allows this (`session_status`).",
)
NO_REACH = define_problem(
    "supervisor-no-reach",
    "Nowhere to ring you",
    422,
    "Supervising rings your phone: give `reach` (a number, a SIP URI or a loopback script) or "
    "have an agent profile with a reach; `errors` says which.",
)
RULE_NOT_FOUND = define_problem(
    "supervisor-alert-rule-not-found",
    "Alert rule not found",
    404,
    "No alert rule of your organization has this id.",
)
RULE_INVALID = define_problem(
    "supervisor-alert-rule-invalid",
    "Invalid alert rule",
    422,
    "The rule cannot be accepted; `errors` lists each value with its `loc` and `message` (a "
    "threshold the kind needs or forbids, a subject that does not exist).",
)
RULE_CHANGED = define_problem(
    "supervisor-alert-rule-changed",
    "Alert rule changed",
    412,
    "The rule changed since you read it (`If-Match` names an older version).",
)
MODE_FORBIDDEN = define_problem(
    "supervisor-mode-forbidden",
    "Mode not allowed",
    403,
    "Your roles do not allow this mode (`permission` names the one it needs): listening needs "
    "supervisor:monitor, whispering supervisor:whisper, barging supervisor:barge.",
)
CAPABILITY_MISSING = define_problem(
    "supervisor-capability-missing",
    "Provider cannot supervise",
    409,
    "The call's telephony provider cannot do what supervision needs (`capability`, `provider`).",
)
