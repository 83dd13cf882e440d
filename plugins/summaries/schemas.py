"""The summaries API's shapes."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from plugins.summaries.models import CallSummaryRow


class SummaryOut(BaseModel):
    id: uuid.UUID
    call_id: uuid.UUID
    status: str = Field(description="pending, done, failed or skipped.")
    skip_reason: str | None = Field(
        description="Why a skipped call has no summary: no_transcript (nothing was said), "
        "agent_leg (an agent's leg: summarised with its customer's call), call_gone."
    )
    attempts: int
    last_error: str | None = Field(description="The kind of the last failure, if any.")
    summary: str
    reason: str = Field(description="Why the customer called.")
    outcome: str | None = Field(
        description="resolved, unresolved, callback, escalated or unknown (null until done)."
    )
    suggested_disposition: str | None = Field(
        description="One of the tenant's disposition codes (the dispositions its calls were "
        "given), or null."
    )
    follow_ups: list[str]
    provider: str | None = Field(description="The model provider that answered.")
    model: str | None
    fell_back: bool = Field(description="The tenant's provider did not answer; another did.")
    summarized_at: datetime | None
    next_attempt_at: datetime | None = Field(description="When a pending summary is tried.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: CallSummaryRow) -> SummaryOut:
        return cls(
            id=row.id,
            call_id=row.call_id,
            status=row.status,
            skip_reason=row.skip_reason,
            attempts=row.attempts,
            last_error=row.last_error,
            summary=row.summary,
            reason=row.reason,
            outcome=row.outcome,
            suggested_disposition=row.suggested_disposition,
            follow_ups=list(row.follow_ups or []),
            provider=row.provider,
            model=row.model,
            fell_back=row.fell_back,
            summarized_at=row.summarized_at,
            next_attempt_at=row.next_attempt_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
