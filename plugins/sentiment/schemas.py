"""What the sentiment routes answer."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field


class Judged(BaseModel):
    score: float = Field(description="-1 (very negative) to 1 (very positive).")
    label: str = Field(description="positive, neutral or negative.")
    segments: int = Field(description="How many segments it is the mean of.")


class Counts(BaseModel):
    positive: int
    neutral: int
    negative: int


class TrendPoint(BaseModel):
    segment_id: uuid.UUID
    at: datetime
    offset_seconds: float | None = Field(description="Seconds into the call it was said.")
    speaker: str
    role: str = Field(description="customer, agent or other.")
    score: float
    label: str


class Moment(TrendPoint):
    text: str = Field(description="What was said (from the call's transcript).")


class CallSentimentOut(BaseModel):
    call_id: uuid.UUID
    overall: Judged
    customer: Judged | None
    agent: Judged | None
    counts: Counts
    trend: str = Field(description="improving, worsening or steady over the last segments.")
    points: list[TrendPoint] = Field(description="Every scored segment, in the call's order.")
    negative_moments: list[Moment] = Field(
        description="The most negative segments (at most five), most negative first."
    )
    first_at: datetime | None
    last_at: datetime | None
    agent_id: uuid.UUID | None
    queue_id: uuid.UUID | None
    campaign_id: uuid.UUID | None


class TrendGroup(BaseModel):
    key: str | None = Field(
        description="The agent, queue or campaign id, or the day (YYYY-MM-DD); null: calls "
        "not attributed to one."
    )
    calls: int
    segments: int
    average_score: float = Field(description="The mean of the calls' overall scores.")
    average_customer_score: float | None
    positive_calls: int
    neutral_calls: int
    negative_calls: int


class TrendsOut(BaseModel):
    group_by: str
    from_: date = Field(alias="from", description="First day, in `time_zone`.")
    to: date = Field(description="Last day, inclusive.")
    time_zone: str
    groups: list[TrendGroup]

    model_config = {"populate_by_name": True}
