"""Request and response bodies of preview mode."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field

from plugins.campaigns.schemas import CampaignAttemptOut

CALLBACK_HORIZON = timedelta(days=90)


class PreviewNextIn(BaseModel):
    campaign_id: uuid.UUID | None = Field(
        default=None, description="Only this campaign (else every preview campaign you work)."
    )


class PreviewSkipIn(BaseModel):
    reason: str = Field(
        min_length=1, max_length=500, description="Why you skip the contact (kept as the note)."
    )


class PreviewCallbackIn(BaseModel):
    at: AwareDatetime = Field(
        description="When to call back (future, within 90 days, else `422 "
        "campaigns-preview-invalid-callback`); the check before the dial judges it then (the "
        "window, the campaign's hours).",
        examples=["2030-01-07T15:00:00Z"],
    )
    note: str | None = Field(default=None, max_length=500)


class PreviewAttemptOut(CampaignAttemptOut):
    agent_id: uuid.UUID | None
    note: str | None
    answered_at: datetime | None
    connected_at: datetime | None


class PreviewCampaign(BaseModel):
    id: uuid.UUID
    name: str
    caller_id: str
    consent_purpose: str
    ring_seconds: int
    dispositions: list[str]


class PreviewPhone(BaseModel):
    number: str
    type: str
    label: str


class PreviewLocalTime(BaseModel):
    zone: str
    local_time: str = Field(description="Now in that zone (ISO 8601 with its offset).")


class PreviewContact(BaseModel):
    id: uuid.UUID
    name: str
    company: str
    phones: list[PreviewPhone]
    time_zone: str | None
    city: str
    region: str | None
    country: str | None
    local_times: list[PreviewLocalTime] = Field(
        description="The person's local time now: in their own time zone, else in every zone "
        "their number may be in (the calling window's candidates)."
    )
    last_call_at: datetime | None
    last_disposition: str | None
    call_count: int


class PreviewHistoryItem(BaseModel):
    attempt_id: uuid.UUID
    campaign_id: uuid.UUID
    campaign_name: str
    decided_at: datetime
    status: str
    allowed: bool
    rule: str
    outcome: str | None
    disposition: str | None
    note: str | None
    call_id: uuid.UUID | None
    ended_at: datetime | None


class PreviewConsentLine(BaseModel):
    id: uuid.UUID
    purpose: str
    channel: str
    action: str
    source: str
    occurred_at: datetime


class PreviewConsent(BaseModel):
    purpose: str
    allowed: bool
    rule: str = Field(description="The contacts plugin's `is_callable` rule.")
    reason: str
    line: PreviewConsentLine | None = Field(
        description="The consent ledger's line that decided, when one did."
    )


class PreviewOut(BaseModel):
    attempt: PreviewAttemptOut
    campaign: PreviewCampaign
    contact: PreviewContact | None = Field(description="None once the contact was erased.")
    history: list[PreviewHistoryItem] = Field(
        description="The contact's earlier attempts in any of your organization's campaigns, "
        "newest first (20 at most)."
    )
    consent: PreviewConsent | None
    decision: dict[str, Any] = Field(description="The check before the dial (as `POST /check`).")
