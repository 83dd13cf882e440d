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
        "An attempt ended: `outcome` human, machine, busy, no_answer or failed (preview: also "
        "skipped, callback); "
        "`status` ended, lost (a worker died before the call was known), not_placed (the "
        "calls plugin's limits refused it; preview: the agent's phone was not answered) or "
        "blocked (preview: the check refused the dial when the agent started it); "
        "`contact_status` what the contact is now."
    )

    status: str
    outcome: str | None
    call_id: uuid.UUID | None
    contact_status: str


class SeatChanged(Event):
    name = "campaigns.seat.changed"
    description = (
        "An agent's seat in a progressive or predictive campaign changed: `status` joining, "
        "ready (waiting for the next answered call), talking (`attempt_id`), wrap_up, "
        "leaving or ended (`reason`)."
    )
    permission = "campaigns:read"
    aggregate = "campaign_id"

    campaign_id: uuid.UUID
    seat_id: uuid.UUID
    agent_id: uuid.UUID
    status: str
    previous_status: str | None = None
    attempt_id: uuid.UUID | None = None
    reason: str | None = None


class PacingChanged(Event):
    name = "campaigns.campaign.pacing_changed"
    description = (
        "The dialer changed how it paces a campaign: `mode` predictive or progressive, "
        "`reason` (predicted, configured, thin_data, near_cap), `abandon_rate` the highest "
        "30-day abandonment rate the guard watched, `detail` in words. A predictive campaign "
        "whose rate nears its cap falls back to progressive this way."
    )
    permission = "campaigns:read"
    aggregate = "campaign_id"

    campaign_id: uuid.UUID
    mode: str
    previous_mode: str | None
    reason: str
    abandon_rate: float
    detail: str


class AttemptPreviewed(AttemptEvent):
    name = "campaigns.attempt.previewed"
    description = (
        "Preview mode: an allowed attempt's contact is shown to agent `agent_id`, who calls "
        "it, skips it or schedules a callback."
    )

    agent_id: uuid.UUID


class AttemptCalled(AttemptEvent):
    name = "campaigns.attempt.called"
    description = (
        "Preview mode: agent `agent_id` started the call; their phone rings (`call_id`, the "
        "agent's leg) and the contact is dialled once they answer."
    )

    agent_id: uuid.UUID
    call_id: uuid.UUID


class AttemptSkipped(AttemptEvent):
    name = "campaigns.attempt.skipped"
    description = (
        "Preview mode: agent `agent_id` skipped the contact (the reason is the attempt's "
        "`note`); it is due again at `next_attempt_at`."
    )

    agent_id: uuid.UUID
    next_attempt_at: datetime | None = None


class CallbackScheduled(AttemptEvent):
    name = "campaigns.attempt.callback_scheduled"
    description = (
        "Preview mode: agent `agent_id` scheduled a callback of their own at `callback_at` "
        "instead of calling now."
    )

    agent_id: uuid.UUID
    callback_at: datetime


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
    SeatChanged,
    PacingChanged,
    AttemptPreviewed,
    AttemptCalled,
    AttemptSkipped,
    CallbackScheduled,
    AttemptDisposed,
]
