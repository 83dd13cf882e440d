"""Events the summaries plugin publishes (catalogue in ``docs/events.md``).

They carry the call as aggregate, so a subscriber sees them after the call's own events."""

from __future__ import annotations

import uuid

from kernel import Event


class SummaryEvent(Event):
    permission = "summaries:read"
    aggregate = "call_id"

    call_id: uuid.UUID
    summary_id: uuid.UUID
    attempts: int


class CallSummarized(SummaryEvent):
    name = "summaries.call.summarized"
    description = (
        "A finished call was summarised: `summary`, `reason`, `outcome` (resolved, unresolved, "
        "callback, escalated, unknown), `suggested_disposition` (one of the tenant's codes, or "
        "null), `follow_ups`; `provider` and `model` that answered, `fell_back` when the "
        "tenant's provider did not."
    )

    summary: str
    reason: str
    outcome: str
    suggested_disposition: str | None = None
    follow_ups: list[str]
    provider: str
    model: str
    fell_back: bool = False


class CallSummaryFailed(SummaryEvent):
    name = "summaries.call.failed"
    description = (
        "A call could not be summarised after its last attempt (`attempts`); `error` names "
        "the kind of failure (never its details). POST the call's summary to try again."
    )

    error: str


EVENT_TYPES: list[type[Event]] = [CallSummarized, CallSummaryFailed]
