"""What the dashboard routes answer (``docs/plugins/supervisor.md`` defines each figure)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class DashboardCalls(BaseModel):
    inbound: int = Field(description="Customers' inbound calls that came in during the span.")
    outbound: int = Field(
        description="Outbound calls to customers placed during the span (campaigns' calls, "
        "callbacks, calls placed through the API); agents' and supervisors' legs are not "
        "counted."
    )


class DashboardQueues(BaseModel):
    """Every queue's calls that entered during the span, as the queues' live figures count
    a day."""

    offered: int = Field(description="answered + abandoned + overflowed")
    answered: int
    answered_within_threshold: int = Field(
        description="Answered within their queue's `service_level_seconds`."
    )
    abandoned: int = Field(description="The caller hung up while waiting (short abandons aside).")
    short_abandoned: int
    overflowed: int
    service_level: float | None = Field(
        description="100 x answered_within_threshold / offered, one decimal; null with none."
    )
    asa_seconds: float | None = Field(
        description="Average speed of answer: the answered calls' mean wait."
    )
    abandon_rate: float | None = Field(description="100 x abandoned / offered.")


class DashboardHandling(BaseModel):
    handled: int = Field(description="Calls agents answered during the span.")
    talked: int = Field(description="Of those, the ones whose talk is over (the AHT's calls).")
    aht_seconds: float | None = Field(
        description="Average handle time: mean of talk + wrap-up over `talked` (a wrap-up "
        "still running counts 0 until it ends)."
    )
    talk_seconds: float | None
    wrap_up_seconds: float | None


class DashboardAgents(BaseModel):
    logged_in: int = Field(description="Active agents whose state is not `offline`, now.")
    by_state: dict[str, int]


class DashboardCampaign(BaseModel):
    campaign_id: uuid.UUID
    name: str
    mode: str
    answered_30d: int
    abandoned_30d: int
    abandonment_rate_30d: float | None = Field(
        description="The campaign's own rolling 30-day abandonment rate, percent."
    )


class DashboardSummary(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from", description="First day, in `time_zone`.")
    to: date = Field(description="Last day (inclusive).")
    time_zone: str
    start: datetime = Field(description="The span's first instant.")
    end: datetime = Field(description="The instant after the span (exclusive).")
    calls: DashboardCalls
    queues: DashboardQueues
    handling: DashboardHandling
    agents: DashboardAgents
    campaigns: list[DashboardCampaign] = Field(
        description="Active campaigns (campaigns installed)."
    )
    at: datetime


class ActivityEvent(BaseModel):
    id: uuid.UUID
    type: str
    occurred_at: datetime
    position: int
    data: dict[str, Any]


class DashboardActivity(BaseModel):
    items: list[ActivityEvent] = Field(description="Newest first.")
