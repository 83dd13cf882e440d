"""The campaign's own dialing hours: is the campaign open at an instant, and if not, when?

A campaign's schedule is the business's (its days, hours and dates in its own time zone);
the legal calling window in the *called person's* time is a separate rule
(``compliance/window.py``) applied on top. Rules: ``schedule.not_started`` (before
``start_date``), ``schedule.ended`` (after ``end_date``: no retry can succeed),
``schedule.closed_day`` (a weekday it does not dial), ``schedule.closed_hours`` (outside its
hours that day), else ``schedule.open``. Hours are wall-clock times: across a DST change a
span starts at the first instant the clock reads its start.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict

from plugins.campaigns.compliance.localtime import first_instant_at, wall, zone
from plugins.campaigns.schemas import WEEKDAYS, CampaignSchedule

OPEN = "schedule.open"
NOT_STARTED = "schedule.not_started"
ENDED = "schedule.ended"
CLOSED_DAY = "schedule.closed_day"
CLOSED_HOURS = "schedule.closed_hours"
RULES = (OPEN, NOT_STARTED, ENDED, CLOSED_DAY, CLOSED_HOURS)
"""Every ``rule`` a schedule decision can carry (stable codes)."""


class ScheduleDecision(BaseModel):
    """Whether the campaign dials at ``at``; JSON-able, to store with the attempt."""

    model_config = ConfigDict(frozen=True)

    allowed: bool
    rule: str
    at: AwareDatetime
    time_zone: str
    local_time: datetime
    next_open_at: AwareDatetime | None
    """The earliest instant (UTC, ``>= at``) the campaign dials; ``None`` after its end."""

    def as_record(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def decide_schedule(schedule: CampaignSchedule, at: datetime) -> ScheduleDecision:
    """Decide whether a campaign with ``schedule`` dials at ``at`` (timezone-aware)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("decide_schedule() needs a timezone-aware instant")
    at = at.astimezone(UTC)
    tz = zone(schedule.time_zone)
    local = wall(at, tz)
    today = local.date()
    if schedule.end_date is not None and today > schedule.end_date:
        rule = ENDED
    elif schedule.start_date is not None and today < schedule.start_date:
        rule = NOT_STARTED
    elif WEEKDAYS[today.weekday()] not in schedule.days:
        rule = CLOSED_DAY
    elif not any(start <= at < end for start, end in _spans(schedule, today)):
        rule = CLOSED_HOURS
    else:
        rule = OPEN
    return ScheduleDecision(
        allowed=rule == OPEN,
        rule=rule,
        at=at,
        time_zone=schedule.time_zone,
        local_time=at.astimezone(tz),
        next_open_at=at if rule == OPEN else _next_open(schedule, at, today),
    )


def _spans(schedule: CampaignSchedule, day: date) -> list[tuple[datetime, datetime]]:
    tz = zone(schedule.time_zone)
    return [
        (first_instant_at(day, hours.start, tz), first_instant_at(day, hours.end, tz))
        for hours in sorted(schedule.hours, key=lambda h: h.start)
    ]


def _next_open(schedule: CampaignSchedule, at: datetime, today: date) -> datetime | None:
    day = max(today, schedule.start_date or today)
    for _ in range(8):  # every weekday once, from the first day it may dial
        if schedule.end_date is not None and day > schedule.end_date:
            return None
        if WEEKDAYS[day.weekday()] in schedule.days:
            for start, end in _spans(schedule, day):
                if at < end:
                    return max(at, start)
        day += timedelta(days=1)
    return None
