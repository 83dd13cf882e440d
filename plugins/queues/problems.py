"""Problem types of queue management and live state (RFC 9457, ``/problems/<slug>``). Routing
and the caller side keep their own in ``routing/problems.py`` and ``caller/problems.py``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kernel import define_problem

QUEUE_NOT_FOUND = define_problem(
    "queues-queue-not-found", "Queue not found", 404, "No queue of your organization has this id."
)
QUEUE_INVALID = define_problem(
    "queues-queue-invalid",
    "Invalid queue",
    422,
    "Some of the queue's values cannot be accepted; `errors` lists each with its `loc` and "
    "`message` (an agent or team that does not exist, an overflow target that cannot take "
    "calls, a skill named twice, ...).",
)
QUEUE_EXISTS = define_problem(
    "queues-queue-exists", "Queue exists", 409, "The organization already has a queue of this name."
)
QUEUE_CHANGED = define_problem(
    "queues-queue-changed",
    "Queue changed",
    412,
    "The queue changed since you read it (`If-Match` names an older version); read it again, "
    "apply your change to what it is now, and send it with the new `ETag`.",
)
QUEUE_IN_USE = define_problem(
    "queues-queue-in-use",
    "Queue in use",
    409,
    "Calls are waiting in the queue, or numbers, IVR nodes or other queues' overflow send "
    "callers to it (`used_by`); let the calls be served and point those elsewhere first.",
)
ITEM_NOT_FOUND = define_problem(
    "queues-call-not-found",
    "Queued call not found",
    404,
    "No call of your organization's queues has this item id.",
)
ITEM_NOT_WAITING = define_problem(
    "queues-call-not-waiting",
    "Call not waiting",
    409,
    "The call is no longer waiting in its queue (an agent took it, or it ended): it can no "
    "longer be moved or taken out (`call_status`).",
)
MOVE_INVALID = define_problem(
    "queues-move-invalid",
    "Move invalid",
    422,
    "The call cannot be moved there: the target queue does not exist, is the call's own "
    "queue, or is inactive; the target agent does not exist, is inactive or cannot take the "
    "call's provider; or the body names both or neither of `queue_id` and `agent_id`. "
    "`errors` says which.",
)
SAMPLE_EXISTS = define_problem(
    "queues-sample-exists",
    "Sample imported already",
    409,
    "The organization has a queue of the sample's name: the sample was imported already (or "
    "rename that queue before importing it).",
)


def located(errors: Sequence[Mapping[str, Any]], where: str = "body") -> list[dict[str, Any]]:
    """Errors in the shape of every 422 (``loc`` and ``message``): ``("overflow",
    "queue_id")`` becomes ``["body", "overflow", "queue_id"]``."""
    return [
        {"loc": [where, *error["loc"]], "message": error["message"], "type": error.get("type")}
        for error in errors
    ]
