"""Events the campaigns plugin publishes (catalogue in ``docs/events.md``).

Payloads carry ids, modes and states, never contacts' numbers."""

from __future__ import annotations

import uuid
from datetime import datetime

from kernel import Event


class CampaignEvent(Event):
    permission = "campaigns:read"
    aggregate = "campaign_id"

    campaign_id: uuid.UUID
    mode: str
    state: str
    revision: int
    """The campaign's version (its `ETag`) after the change."""


class CampaignCreated(CampaignEvent):
    name = "campaigns.campaign.created"
    description = "A campaign was created (in `draft`)."


class CampaignUpdated(CampaignEvent):
    name = "campaigns.campaign.updated"
    description = "A campaign's settings changed; `fields` names those that did."

    fields: list[str]


class CampaignDeleted(CampaignEvent):
    name = "campaigns.campaign.deleted"
    description = "A draft campaign was deleted."


class CampaignStateChanged(CampaignEvent):
    name = "campaigns.campaign.state_changed"
    description = (
        "A campaign went from `previous_state` to `state` (activated, paused, resumed, "
        "completed, archived); `reason` as given, `by` the user or `dialer`."
    )

    previous_state: str
    reason: str = ""
    by: str


class AttemptEvent(Event):
    permission = "campaigns:read"
    aggregate = "campaign_id"

    campaign_id: uuid.UUID
    attempt_id: uuid.UUID
    contact_id: uuid.UUID
    attempt_no: int


class AttemptDecided(AttemptEvent):
    name = "campaigns.attempt.decided"
    description = (
        "The dialer decided on a dial: `allowed`, or blocked by `rule` (the first rule that "
        "refused); `next_allowed_at` when only time rules refused."
    )

    allowed: bool
    rule: str
    next_allowed_at: datetime | None = None


class AttemptEnded(AttemptEvent):
    name = "campaigns.attempt.ended"
    description = (
        "A dialled attempt ended: `outcome` human, machine, busy, no_answer or failed; "
        "`status` ended, lost (a worker died before the call was known) or not_placed (the "
        "calls plugin's limits refused it); `contact_status` what the contact is now."
    )

    status: str
    outcome: str | None
    call_id: uuid.UUID | None
    contact_status: str


class AttemptDisposed(AttemptEvent):
    name = "campaigns.attempt.disposed"
    description = (
        "An answered attempt got its `disposition` (or a corrected one) from the user `by` "
        "(`agent_id`: the agent the call was connected to, if any); `has_note` when a note "
        "was written (the note itself is not in the event)."
    )

    disposition: str
    previous_disposition: str | None = None
    has_note: bool = False
    agent_id: uuid.UUID | None = None
    by: str


EVENT_TYPES: list[type[Event]] = [
    CampaignCreated,
    CampaignUpdated,
    CampaignDeleted,
    CampaignStateChanged,
    AttemptDecided,
    AttemptEnded,
    AttemptDisposed,
]
