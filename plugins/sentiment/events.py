"""Events the sentiment plugin publishes (catalogue in ``docs/events.md``).

``sentiment.call.updated`` reaches whoever holds ``sentiment:live``: supervisors (the
wallboard) and agents (their page shows the caller's mood on their call)."""

from __future__ import annotations

import uuid

from kernel import Event


class CallSentimentUpdated(Event):
    name = "sentiment.call.updated"
    description = (
        "A call's sentiment changed: new transcript segments were scored (live), or the call "
        "was analysed on demand. `overall_*` over every segment, `customer_*` over the "
        "customer's, `latest_*` the last segment scored, `trend` improving, worsening or "
        "steady over the last segments; `agent_id`, `queue_id`, `campaign_id` when known."
    )
    permission = "sentiment:live"
    aggregate = "call_id"

    call_id: uuid.UUID
    overall_score: float
    overall_label: str
    customer_score: float | None = None
    customer_label: str | None = None
    latest_score: float | None = None
    latest_label: str | None = None
    latest_speaker: str | None = None
    trend: str
    segments: int
    agent_id: uuid.UUID | None = None
    queue_id: uuid.UUID | None = None
    campaign_id: uuid.UUID | None = None


EVENT_TYPES: list[type[Event]] = [CallSentimentUpdated]
