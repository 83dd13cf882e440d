"""Problems of putting a live call in a queue over the API."""

from __future__ import annotations

from kernel import define_problem

QUEUE_UNAVAILABLE = define_problem(
    "queues-enqueue-queue-unavailable",
    "Queue unavailable",
    404,
    "No active queue of your organization has this id.",
)
CALL_UNKNOWN = define_problem(
    "queues-enqueue-call-unknown",
    "Call not found",
    404,
    "No call of your organization has this id.",
)
CALL_NOT_LIVE = define_problem(
    "queues-enqueue-call-not-live",
    "Call not live",
    409,
    "Only a call in progress can be put in a queue; `call_status` is its status.",
)
ALREADY_QUEUED = define_problem(
    "queues-enqueue-already-queued",
    "Already queued",
    409,
    "The call is already waiting in a queue (`item_id`): move it instead.",
)
QUEUE_FULL = define_problem(
    "queues-enqueue-queue-full",
    "Queue full",
    409,
    "The queue holds its maximum number of callers.",
)
