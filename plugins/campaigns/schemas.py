"""Request and response bodies of campaign management (names start with ``Campaign`` so that
they stay distinct in the OpenAPI document).

Structured settings (schedule, retries, caps, answering machines, the abandoned-call message)
are validated here in shape; what they name (segments, contacts, queues, teams, flows,
numbers, consent purposes) is checked against the organization's data by ``service.py``.
"""

from __future__ import annotations

import itertools
import uuid
import zoneinfo
from datetime import date, datetime, time
from typing import Annotated, Any, Literal

import phonenumbers
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from plugins.campaigns.compliance.window_rules import ClockTime, WindowRules
from plugins.campaigns.models import (
    MAX_ABANDON_RATE,
    MIN_RING_SECONDS,
    CampaignState,
    Mode,
    SourceKind,
)

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Slug = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _e164(value: str) -> str:
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as error:
        raise ValueError("not a phone number in E.164 form (+ and the country code)") from error
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


E164 = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=32), AfterValidator(_e164)
]


def _zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError("not an IANA time zone (e.g. America/New_York)") from error
    return value


TimeZone = Annotated[str, StringConstraints(max_length=64), AfterValidator(_zone)]


class CampaignSource(BaseModel):
    """Who the campaign calls: a segment of the contacts plugin (``segment_id``; its members
    as they are when the dialer reads them) or a fixed list (``contact_ids``, in order)."""

    model_config = ConfigDict(extra="forbid")

    kind: SourceKind
    segment_id: uuid.UUID | None = None
    contact_ids: Annotated[list[uuid.UUID], Field(max_length=10_000)] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> CampaignSource:
        if self.kind is SourceKind.SEGMENT:
            if self.segment_id is None or self.contact_ids is not None:
                raise ValueError("a segment source names `segment_id` (and no `contact_ids`)")
        elif self.contact_ids is None or self.segment_id is not None:
            raise ValueError("a list source names `contact_ids` (and no `segment_id`)")
        elif not self.contact_ids:
            raise ValueError("a list source needs at least one contact")
        elif len(set(self.contact_ids)) != len(self.contact_ids):
            raise ValueError("a contact is listed twice")
        return self


class CampaignHours(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: ClockTime = Field(description="`HH:MM`, in the schedule's `time_zone`.")
    end: ClockTime

    @model_validator(mode="after")
    def _ordered(self) -> CampaignHours:
        if self.end <= self.start:
            raise ValueError("`end` must come after `start` on the same day")
        return self


def _working_days() -> list[Weekday]:
    return ["mon", "tue", "wed", "thu", "fri"]


class CampaignSchedule(BaseModel):
    """When the campaign may dial, in its own time zone (the business's hours). The legal
    calling window in each *called person's* local time is checked on top of this, before
    every dial."""

    model_config = ConfigDict(extra="forbid")

    time_zone: TimeZone = "UTC"
    start_date: date | None = None
    end_date: date | None = Field(default=None, description="The last day it dials.")
    days: Annotated[list[Weekday], Field(min_length=1, max_length=7)] = Field(
        default_factory=_working_days
    )
    hours: Annotated[list[CampaignHours], Field(min_length=1, max_length=6)] = Field(
        default_factory=lambda: [CampaignHours(start=time(9), end=time(20))]
    )

    @model_validator(mode="after")
    def _consistent(self) -> CampaignSchedule:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError("`end_date` comes before `start_date`")
        if len(set(self.days)) != len(self.days):
            raise ValueError("a day is named twice")
        spans = sorted((h.start, h.end) for h in self.hours)
        if any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans)):
            raise ValueError("two `hours` spans overlap")
        return self


class CampaignRetry(BaseModel):
    """Another attempt after an outcome: at most ``max_attempts`` more for that outcome,
    each ``after_minutes`` later (0 more: the contact is done with that outcome)."""

    model_config = ConfigDict(extra="forbid")

    max_attempts: int = Field(default=2, ge=0, le=10)
    after_minutes: int = Field(default=60, ge=1, le=10_080)


class CampaignRetryRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    busy: CampaignRetry = Field(default_factory=lambda: CampaignRetry(after_minutes=15))
    no_answer: CampaignRetry = Field(default_factory=lambda: CampaignRetry(after_minutes=120))
    machine: CampaignRetry = Field(
        default_factory=lambda: CampaignRetry(max_attempts=1, after_minutes=240)
    )
    failed: CampaignRetry = Field(
        default_factory=lambda: CampaignRetry(max_attempts=1, after_minutes=60)
    )
    max_attempts_per_contact: int = Field(
        default=4, ge=1, le=20, description="Attempts of this campaign per contact, in all."
    )


class CampaignFrequencyCaps(BaseModel):
    """At most this many attempts per contact per day / per week (in the called person's
    local time) across *all* of the organization's campaigns."""

    model_config = ConfigDict(extra="forbid")

    per_day: int = Field(default=2, ge=1, le=10)
    per_week: int = Field(default=6, ge=1, le=50)

    @model_validator(mode="after")
    def _ordered(self) -> CampaignFrequencyCaps:
        if self.per_week < self.per_day:
            raise ValueError("`per_week` cannot be lower than `per_day`")
        return self


class CampaignAmd(BaseModel):
    """Answering-machine detection and what to do when a machine answers: `hangup`,
    `message` (leave `message` after the beep) or `agent` (pass it to an agent anyway)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    on_machine: Literal["hangup", "message", "agent"] = "hangup"
    message: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = None

    @model_validator(mode="after")
    def _message(self) -> CampaignAmd:
        if self.on_machine == "message" and not self.message:
            raise ValueError("`on_machine: message` needs the `message` to leave")
        if self.on_machine != "message" and self.message:
            raise ValueError("`message` is only left with `on_machine: message`")
        return self


class CampaignAbandonMessage(BaseModel):
    """Played within 2 seconds to a person who answered when no agent could be connected:
    who is calling (`text`) and a number to call back (`callback_number`)."""

    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=10, max_length=500)]
    callback_number: E164


class CampaignSettingsFields(BaseModel):
    """A campaign's settings besides its name and mode (every field optional in a change)."""

    model_config = ConfigDict(extra="forbid")

    description: Description | None = None
    source: CampaignSource | None = None
    queue_id: uuid.UUID | None = Field(
        default=None, description="Agent modes: the queue whose agents take answered calls."
    )
    team_id: uuid.UUID | None = Field(
        default=None, description="Agent modes: a team whose agents take answered calls."
    )
    flow_id: uuid.UUID | None = Field(
        default=None, description="Agentless: the published IVR flow every answered call runs."
    )
    caller_id: E164 | None = Field(
        default=None, description="One of the organization's numbers (it can be called back)."
    )
    consent_purpose: Slug | None = Field(
        default=None, description="The consent purpose (contacts' ledger) every dial needs."
    )
    schedule: CampaignSchedule | None = None
    retry: CampaignRetryRules | None = None
    frequency_caps: CampaignFrequencyCaps | None = None
    amd: CampaignAmd | None = None
    dispositions: Annotated[list[Slug], Field(max_length=50)] | None = None
    max_abandon_rate: float | None = Field(
        default=None,
        gt=0,
        le=MAX_ABANDON_RATE,
        description="Percent of live-answered calls over the rolling 30 days (at most 3).",
    )
    abandon_message: CampaignAbandonMessage | None = None
    ring_seconds: int | None = Field(
        default=None,
        ge=MIN_RING_SECONDS,
        le=120,
        description="How long an unanswered call rings (at least 15 s).",
    )
    lines: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="Agentless: the most calls the campaign has in flight at once.",
    )

    @field_validator("dispositions")
    @classmethod
    def _distinct(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("a disposition is named twice")
        return value


class CampaignCreate(CampaignSettingsFields):
    name: Name
    mode: Mode
    source: CampaignSource
    caller_id: E164
    consent_purpose: Slug


class CampaignPatch(CampaignSettingsFields):
    """Only the fields sent change. While the campaign is active only what cannot change who
    is called or on what grounds may change (`docs/plugins/campaigns.md`)."""

    name: Name | None = None
    mode: Mode | None = None


class CampaignProgress(BaseModel):
    """Where the dialing stands: the roster's contacts by status (written at activation:
    all zero before), and the attempts so far."""

    contacts: dict[str, int] = Field(
        description="pending, scheduled, dialing, done, exhausted, blocked: how many of each."
    )
    attempts: int = Field(description="Decisions taken, blocked ones included.")
    attempts_placed: int = Field(description="Attempts whose call was placed.")
    attempts_blocked: int = Field(description="Attempts a rule refused (never dialled).")


class CampaignAttemptOut(BaseModel):
    """One decision to dial a contact, with every rule's record, and its call."""

    id: uuid.UUID
    campaign_id: uuid.UUID
    contact_id: uuid.UUID
    number: str | None
    attempt_no: int
    decided_at: datetime
    allowed: bool
    rule: str = Field(description="`allowed`, or the first rule that refused the dial.")
    decision: dict[str, Any] = Field(description="The check's full record (as `POST /check`).")
    status: str = Field(
        description="blocked, dialing, placed, ended, lost (a worker died before the call "
        "was known) or not_placed (the calls plugin's limits refused it)."
    )
    call_id: uuid.UUID | None
    placed_at: datetime | None
    outcome: str | None = Field(
        description="human, machine, busy, no_answer, failed or skipped (preview)."
    )
    answered_by: str | None
    amd_action: str | None = Field(
        default=None,
        description="What was done when a machine answered: hangup, message or agent.",
    )
    ended_at: datetime | None
    answered_at: datetime | None = Field(description="When the called party picked up.")
    agent_id: uuid.UUID | None = Field(description="The agent who took the call.")
    connected_at: datetime | None = Field(description="When that agent was connected.")
    abandoned: bool = Field(
        description="A person answered and no agent was connected within 2 seconds."
    )
    safe_harbour_at: datetime | None = Field(
        description="When an abandoned call's safe-harbour message started."
    )
    disposition: str | None = Field(
        default=None, description="What the call came to (one of the campaign's dispositions)."
    )
    note: str | None = Field(default=None, description="The disposition's note.")
    disposed_at: datetime | None = None
    disposed_by: uuid.UUID | None = Field(default=None, description="The user who disposed it.")


class CampaignMetricContacts(BaseModel):
    """The campaign's roster by status (written at activation: all zero before)."""

    total: int
    remaining: int = Field(description="Still to dial: pending, scheduled and dialing.")
    pending: int
    scheduled: int
    dialing: int
    done: int
    exhausted: int
    blocked: int


class CampaignMetric(BaseModel):
    """The campaign's figures (`docs/plugins/campaigns.md#metrics` defines each)."""

    attempts: int = Field(
        description="Dials: allowed attempts, except those the calls plugin's limits refused, "
        "previews not started and skipped previews."
    )
    blocked: int = Field(description="Decisions a rule refused (never dialled).")
    blocked_by_rule: dict[str, int] = Field(description="Blocked decisions per `rule`.")
    connects: int = Field(description="Attempts answered, by a person or a machine.")
    human: int = Field(description="Answered by a person.")
    machine: int = Field(description="Answered by an answering machine.")
    right_party_contacts: int = Field(
        description="Answered by a person, not abandoned and connected to an agent (agentless: "
        "answered by a person)."
    )
    abandoned: int = Field(
        description="A person answered and no agent was connected within 2 seconds."
    )
    answered_30d: int = Field(
        description="Calls answered by a person in the rolling 30 days (since activation)."
    )
    abandoned_30d: int = Field(description="Of those, abandoned.")
    abandonment_rate_30d: float | None = Field(
        description="`abandoned_30d` / `answered_30d` in percent; null before the first answer."
    )
    average_handle_seconds: float | None = Field(
        description="From the agent's connection (agentless: the answer) to the end of the "
        "call, on average; null before the first such call."
    )
    contacts: CampaignMetricContacts
    at: datetime = Field(description="When the figures were taken.")


class CampaignMetricBucket(BaseModel):
    """One UTC hour or day: the attempts decided in it and what became of them."""

    start: datetime = Field(description="The bucket's first instant (UTC).")
    attempts: int
    blocked: int
    connects: int
    human: int
    right_party_contacts: int
    abandoned: int
    average_handle_seconds: float | None


class CampaignMetricsOut(BaseModel):
    campaign_id: uuid.UUID
    bucket: Literal["hour", "day"]
    from_: datetime = Field(alias="from", description="The first bucket's start.")
    to: datetime = Field(description="The end of the range (exclusive).")
    buckets: list[CampaignMetricBucket]

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class CampaignDispositionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    disposition: Slug = Field(description="One of the campaign's `dispositions`.")
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class CampaignAbandonSummary(BaseModel):
    """The abandoned calls of the report's span and their safe-harbour messages."""

    count: int
    max_seconds_to_safe_harbour: float | None
    average_seconds_to_safe_harbour: float | None
    over_2_seconds: int = Field(
        description="Abandons whose safe-harbour message started more than 2 s after the answer."
    )
    without_safe_harbour: int = Field(description="Abandons with no recorded safe-harbour message.")


class CampaignReportRow(BaseModel):
    """One attempt of the compliance report."""

    attempt_id: uuid.UUID
    contact_id: uuid.UUID
    number: str | None = Field(description="The number dialled (or that would have been).")
    attempt_no: int
    decided_at: datetime
    allowed: bool
    rule: str = Field(description="`allowed`, or the first rule that refused the dial.")
    decision: dict[str, Any] = Field(description="The check's full record, every rule's verdict.")
    status: str
    outcome: str | None
    answered_by: str | None
    answered_at: datetime | None
    agent_id: uuid.UUID | None
    connected_at: datetime | None
    abandoned: bool
    safe_harbour_at: datetime | None
    seconds_to_safe_harbour: float | None = Field(
        description="From the answer to the start of the safe-harbour message."
    )
    amd_action: str | None
    disposition: str | None


class CampaignComplianceReport(BaseModel):
    """`GET /compliance-report` as JSON (streamed): the abandons' summary, then every
    attempt in decision order."""

    campaign_id: uuid.UUID
    generated_at: datetime
    from_: datetime | None = Field(alias="from")
    to: datetime | None
    abandons: CampaignAbandonSummary
    attempts: list[CampaignReportRow]

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class CampaignOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    mode: Mode
    state: CampaignState
    source: CampaignSource
    queue_id: uuid.UUID | None
    team_id: uuid.UUID | None
    flow_id: uuid.UUID | None
    caller_id: str
    consent_purpose: str
    schedule: CampaignSchedule
    retry: CampaignRetryRules
    frequency_caps: CampaignFrequencyCaps
    amd: CampaignAmd
    dispositions: list[str]
    max_abandon_rate: float
    abandon_message: CampaignAbandonMessage | None
    ring_seconds: int
    lines: int
    contacts: int = Field(
        description="Contacts the campaign calls now (the list's, or the segment's members)."
    )
    progress: CampaignProgress
    metrics: CampaignMetric | None = Field(
        default=None,
        description="The campaign's figures: in the answers about one campaign; null in lists.",
    )
    version: int
    activated_at: datetime | None
    state_changed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class CampaignStateChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""


def sent_fields(body: BaseModel) -> dict[str, Any]:
    """The fields the client sent, nested models whole (their defaults included)."""
    whole = body.model_dump(mode="json")
    return {name: whole[name] for name in body.model_fields_set}


class CampaignWindowSettings(BaseModel):
    """The organization's calling-window rules: stricter than the legal 08:00-21:00 in the
    called person's local time (everywhere, per weekday, per region, holidays), never looser."""

    model_config = ConfigDict(extra="forbid")

    window_rules: WindowRules = Field(default_factory=WindowRules)


class CampaignCheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_id: uuid.UUID
    number: E164 | None = Field(
        default=None, description="One of the contact's numbers (default: their first)."
    )
    at: AwareDatetime | None = Field(
        default=None, description="The instant to judge (default: now), with its UTC offset."
    )


class CampaignCheckOut(BaseModel):
    """The decision the dialer takes before a dial: `rule` is the first that refuses (or
    `allowed`), `checks` each rule's own record."""

    allowed: bool
    rule: str
    at: datetime
    number: str | None
    next_allowed_at: datetime | None = Field(
        description="When the time rules would both allow it; null if a rule time does not "
        "change refuses."
    )
    checks: dict[str, dict[str, Any]]
