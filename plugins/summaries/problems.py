"""Problem types of the summaries plugin (RFC 9457, ``/problems/<slug>``)."""

from __future__ import annotations

from kernel import define_problem

SUMMARY_NOT_FOUND = define_problem(
    "summaries-not-found",
    "Call summary not found",
    404,
    "No call of your organization with this id has a summary (nor a pending one): it has "
    "not ended yet, or it is not yours.",
)
CALL_NOT_FOUND = define_problem(
    "summaries-call-not-found",
    "Call not found",
    404,
    "No call of your organization has this id.",
)
CALL_NOT_ENDED = define_problem(
    "summaries-call-not-ended",
    "Call not ended",
    409,
    "The call is still going on (`call_status`): it is summarised once it has ended.",
)
