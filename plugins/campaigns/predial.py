"""The check before every dial: may this campaign call this contact on this number now, and if
not, which rule says no and when it could?

Every rule is evaluated, in this order, and the first that refuses decides (``rule``); each
one's own record is kept (``checks``), so the answer stored with an attempt proves every
decision, not only the one that blocked:

1. ``campaign.not_active``: the campaign is not active.
2. ``contact.unknown`` (not a live contact of the organization), ``contact.no_number``,
   ``contact.number_not_theirs`` (a number asked for that is not one of the contact's).
3. The campaign's own hours (``schedule.*``, ``schedule.py``).
4. The calling window in the called person's local time, under the tenant's rules
   (``window.*``, ``compliance/window.py``).
5. The campaign's frequency caps (``frequency.week``, ``frequency.day``,
   ``compliance/frequency.py``) over the contact's attempts whose call was placed, by any
   of the tenant's campaigns in the last 8 days, counted in the window's candidate zones.
6. The contacts plugin's ``is_callable`` for the campaign's consent purpose: invalid number,
   do-not-call list, opt-out, revoked or missing consent (its own rule slugs).

``next_allowed_at`` is the earliest instant at which the time rules (3, 4 and 5) all allow
the dial, when only they refuse; None when a rule that time does not change refuses.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, utcnow
from plugins.campaigns.compliance.frequency import FrequencyCap, FrequencyDecision
from plugins.campaigns.compliance.window import WindowDecision
from plugins.campaigns.compliance.window import decide as decide_window
from plugins.campaigns.compliance.window_rules import WindowRules
from plugins.campaigns.models import Attempt, Campaign, CampaignSettingsRow, CampaignState
from plugins.campaigns.schedule import ScheduleDecision, decide_schedule
from plugins.campaigns.schemas import CampaignFrequencyCaps, CampaignSchedule
from plugins.contacts import DialFacts, dial_facts, is_callable

logger = logging.getLogger(__name__)

ALLOWED = "allowed"
NOT_ACTIVE = "campaign.not_active"
UNKNOWN_CONTACT = "contact.unknown"
NO_NUMBER = "contact.no_number"
NOT_THEIRS = "contact.number_not_theirs"
CHECKS = ("campaign", "contact", "schedule", "window", "frequency", "callable")
"""The rules' own records in a decision's ``checks``, in the order they are judged (a
decision that stops at the contact has only the first two)."""
TIME_RULES_SEARCH = 50
"""How many times the schedule and the window may send each other later before the search
for an instant both allow gives up (they agree within a few rounds in practice)."""
FREQUENCY_LOOKBACK = timedelta(days=8)
"""How far back placed attempts are counted (a local week, and a day of zones either side)."""
FrequencyAt = Callable[[datetime, WindowDecision], FrequencyDecision | None]


@dataclass(frozen=True)
class DialCheck:
    """The decision on one dial, with every rule's own record."""

    allowed: bool
    rule: str
    at: datetime
    number: str | None
    next_allowed_at: datetime | None
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_record(self) -> dict[str, Any]:
        """The decision as JSON values, to store with the attempt."""
        return {
            "allowed": self.allowed,
            "rule": self.rule,
            "at": self.at.isoformat(),
            "number": self.number,
            "next_allowed_at": self.next_allowed_at.isoformat() if self.next_allowed_at else None,
            "checks": self.checks,
        }


async def window_rules(session: AsyncSession) -> WindowRules:
    """The tenant's calling-window rules (the legal window alone when it has none)."""
    stored = await session.scalar(select(CampaignSettingsRow.window_rules))
    if not stored:
        return WindowRules()
    try:
        return WindowRules.model_validate(stored)
    except ValidationError:  # written by an older version; the API validates what it stores
        logger.warning("stored calling-window rules do not validate; the legal window applies")
        return WindowRules()


async def check_dial(
    platform: Platform,
    session: AsyncSession,
    campaign: Campaign,
    contact_id: uuid.UUID,
    *,
    number: str | None = None,
    at: datetime | None = None,
    rules: WindowRules | None = None,
) -> DialCheck:
    """Decide whether ``campaign`` may call ``contact_id`` (on ``number``, else the contact's
    first number) at ``at`` (now); see the module for the rules."""
    at = (at or utcnow()).astimezone(UTC)
    checks: dict[str, dict[str, Any]] = {}
    refusals: list[str] = []
    if campaign.state != CampaignState.ACTIVE:
        refusals.append(NOT_ACTIVE)
    checks["campaign"] = {"state": campaign.state, "mode": campaign.mode}
    facts = await dial_facts(session, contact_id)
    chosen, contact_rule = _number(facts, number)
    checks["contact"] = {
        "contact_id": str(contact_id),
        "rule": contact_rule or ALLOWED,
        "time_zone": facts.time_zone if facts else None,
        "country": facts.country if facts else None,
        "region": facts.region if facts else None,
    }
    if contact_rule or chosen is None or facts is None:
        return _decided([*refusals, contact_rule or NO_NUMBER], at, chosen, None, checks)
    schedule = CampaignSchedule.model_validate(campaign.schedule or {})
    rules = rules or await window_rules(session)
    hours = decide_schedule(schedule, at)
    window = _window(chosen, facts, at, rules)
    frequency_at = await _frequency(session, campaign, contact_id, at)
    frequency = frequency_at(at, window)
    checks["schedule"] = hours.as_record()
    checks["window"] = window.as_record()
    checks["frequency"] = (
        frequency.as_record()
        if frequency
        else {"allowed": True, "rule": "frequency.allowed", "skipped": "no zone to count in"}
    )
    callable_ = await is_callable(
        platform,
        session,
        number=chosen,
        purpose=campaign.consent_purpose,
        contact_id=contact_id,
        at=at,
    )
    checks["callable"] = callable_.as_record()
    refusals += [d.rule for d in (hours, window, frequency) if d is not None and not d.allowed]
    if not callable_.allowed:
        refusals.append(callable_.rule)
    timed = all(r.startswith(("schedule.", "window.", "frequency.")) for r in refusals)
    next_at = (
        _next_all(schedule, chosen, facts, rules, hours, window, frequency_at) if timed else None
    )
    return _decided(refusals, at, chosen, next_at, checks)


def _number(facts: DialFacts | None, asked: str | None) -> tuple[str | None, str | None]:
    if facts is None:
        return asked, UNKNOWN_CONTACT
    if asked is not None:
        return (asked, None) if asked in facts.numbers else (asked, NOT_THEIRS)
    return (facts.numbers[0], None) if facts.numbers else (None, NO_NUMBER)


def _window(number: str, facts: DialFacts, at: datetime, rules: WindowRules) -> WindowDecision:
    return decide_window(
        number,
        facts.time_zone,
        at,
        rules,
        contact_country=facts.country,
        contact_region=facts.region,
    )


async def _frequency(
    session: AsyncSession, campaign: Campaign, contact_id: uuid.UUID, at: datetime
) -> FrequencyAt:
    """The campaign's caps over the contact's placed attempts (every campaign's), as a
    decision at any instant in the window's zones there (None: no zone to count in)."""
    limits = CampaignFrequencyCaps.model_validate(campaign.frequency_caps or {})
    cap = FrequencyCap(per_day=limits.per_day, per_week=limits.per_week)
    placed = [
        t.astimezone(UTC)
        for t in await session.scalars(
            select(Attempt.placed_at).where(
                Attempt.contact_id == contact_id,
                Attempt.placed_at.is_not(None),
                Attempt.placed_at >= at - FREQUENCY_LOOKBACK,
            )
        )
        if t is not None
    ]

    def decide(instant: datetime, window: WindowDecision) -> FrequencyDecision | None:
        zones = [z.zone for z in window.zones]
        return cap.check(placed, instant, zones) if zones else None

    return decide


def _next_all(
    schedule: CampaignSchedule,
    number: str,
    facts: DialFacts,
    rules: WindowRules,
    hours: ScheduleDecision,
    window: WindowDecision,
    frequency_at: FrequencyAt,
) -> datetime | None:
    """The earliest instant the campaign's hours, the calling window and the frequency caps
    all allow: each sends the search to its next opening until they agree."""
    for _ in range(TIME_RULES_SEARCH):
        frequency = frequency_at(hours.at, window)
        if hours.allowed and window.allowed and (frequency is None or frequency.allowed):
            return hours.at
        if hours.next_open_at is None or window.next_allowed_at is None:
            return None
        later = frequency.next_allowed_at if frequency is not None else None
        candidate = max(
            t
            for t in (hours.next_open_at, window.next_allowed_at, later, hours.at)
            if t is not None
        )
        hours = decide_schedule(schedule, candidate)
        window = _window(number, facts, candidate, rules)
    return None


def _decided(
    refusals: list[str],
    at: datetime,
    number: str | None,
    next_at: datetime | None,
    checks: dict[str, dict[str, Any]],
) -> DialCheck:
    return DialCheck(
        allowed=not refusals,
        rule=refusals[0] if refusals else ALLOWED,
        at=at,
        number=number,
        next_allowed_at=next_at,
        checks=checks,
    )
