"""The calling window: may this number be called at this instant, and if not, when?

The dialing engine calls :func:`decide` before every dial and stores the answer
(:meth:`WindowDecision.as_record`) with the attempt. Rules, per candidate zone, in order:

1. ``window.invalid_number``: the number is not a valid E.164 number.
2. ``window.unknown_zone``: the contact's zone is not an IANA zone, or the number's region
   has none; never guessed.
3. ``window.holiday``: the local date is one of the tenant's holidays there.
4. ``window.closed_day``: the tenant places no calls on that weekday there (or its windows
   for that day do not overlap).
5. ``window.too_early`` / ``window.too_late``: the local time is before the window's start,
   or the clock has reached its end on that date (in a repeated hour, the first time it does).
6. ``window.no_allowed_time``: blocked now, and no instant in the next
   :data:`SEARCH_DAYS` days is allowed in every candidate zone, so a retry is pointless.

A call is allowed only when every candidate zone allows it (``window.allowed``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict

from plugins.campaigns.compliance.localtime import first_instant_at, instants_at, wall, zone
from plugins.campaigns.compliance.window_rules import (
    LEGAL_END,
    LEGAL_START,
    DayRules,
    Region,
    WindowRules,
)
from plugins.campaigns.compliance.zones import InvalidNumber, Place, UnknownZone, place_of

ALLOWED = "window.allowed"
INVALID_NUMBER = "window.invalid_number"
UNKNOWN_ZONE = "window.unknown_zone"
HOLIDAY = "window.holiday"
CLOSED_DAY = "window.closed_day"
TOO_EARLY = "window.too_early"
TOO_LATE = "window.too_late"
NO_ALLOWED_TIME = "window.no_allowed_time"
RULES = (
    ALLOWED,
    INVALID_NUMBER,
    UNKNOWN_ZONE,
    HOLIDAY,
    CLOSED_DAY,
    TOO_EARLY,
    TOO_LATE,
    NO_ALLOWED_TIME,
)
"""Every ``rule`` a decision can carry (stable codes)."""

SEARCH_DAYS = 400
"""How far ahead ``next_allowed_at`` is looked for (a year of holidays, and then some)."""

_REASONS = {
    ALLOWED: "The local time is inside the calling window in every candidate zone.",
    INVALID_NUMBER: "The number is not a valid E.164 phone number.",
    UNKNOWN_ZONE: "No time zone is known for the called person.",
    HOLIDAY: "It is a holiday on which no calls are placed in the called person's zone.",
    CLOSED_DAY: "No calls are placed on this day in the called person's zone.",
    TOO_EARLY: "It is before the calling window opens in the called person's zone.",
    TOO_LATE: "The calling window has closed in the called person's zone.",
    NO_ALLOWED_TIME: "No time in the coming year is inside the window in every candidate zone.",
}


class ZoneCheck(BaseModel):
    """One candidate zone's verdict, with the local time it was judged at."""

    model_config = ConfigDict(frozen=True)

    zone: str
    local_time: datetime
    """The instant in the zone's local time (with its UTC offset)."""
    allowed: bool
    rule: str
    window: str | None
    """The window that applied on that local date (``08:00:00-21:00:00``), if any."""
    sources: list[str]
    """The tenant's rules that shaped that date there (``tenant``, ``region US-FL``,
    ``holiday 2026-12-25 (Christmas)``); empty when only the legal window applied."""


class WindowDecision(BaseModel):
    """Whether a dial is inside the calling window; JSON-able, to store with the attempt."""

    model_config = ConfigDict(frozen=True)

    allowed: bool
    rule: str
    """One of :data:`RULES`: ``window.allowed``, or the rule that blocked the dial."""
    reason: str
    at: AwareDatetime
    """The instant decided on, in UTC."""
    zone_source: Literal["contact", "number"] | None
    """Where the candidate zones came from (``None`` when none could be named)."""
    country: str | None
    subdivisions: list[str]
    zones: list[ZoneCheck]
    next_allowed_at: AwareDatetime | None
    """The earliest instant (UTC, ``>= at``) allowed in every candidate zone; ``at`` itself
    when allowed; ``None`` when no retry can succeed."""

    def as_record(self) -> dict[str, Any]:
        """The decision as JSON values."""
        return self.model_dump(mode="json")


def decide(
    number: str,
    contact_time_zone: str | None,
    at: datetime,
    rules: WindowRules,
    *,
    contact_country: str | None = None,
    contact_region: str | None = None,
) -> WindowDecision:
    """Decide whether ``number`` may be called at ``at`` under ``rules``.

    Args:
        number: the number to dial, in E.164.
        contact_time_zone: the contact's own IANA zone when known; it replaces the zones the
            number implies.
        at: the instant of the dial (timezone-aware).
        rules: the tenant's :class:`WindowRules`.
        contact_country: the country of the contact's address (ISO alpha-2), so that
            country's rules apply even when the number is from elsewhere.
        contact_region: its subdivision, as the contacts plugin stores it (``FL``, or
            ``US-FL``), so that a state's stricter rule applies too.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("decide() needs a timezone-aware instant")
    at = at.astimezone(UTC)
    try:
        place = place_of(
            number, contact_time_zone, contact_country=contact_country, region=contact_region
        )
    except InvalidNumber:
        return _refused(INVALID_NUMBER, at)
    except UnknownZone:
        return _refused(UNKNOWN_ZONE, at)
    judges = [_Zone(key, place, rules) for key in place.zones]
    checks = [judge.check(at) for judge in judges]
    blocked = next((c.rule for c in checks if not c.allowed), None)
    next_at: datetime | None
    if blocked is None:
        rule, next_at = ALLOWED, at
    else:
        next_at = _next_allowed(judges, at)
        rule = blocked if next_at is not None else NO_ALLOWED_TIME
    return WindowDecision(
        allowed=blocked is None,
        rule=rule,
        reason=_REASONS[rule],
        at=at,
        zone_source=place.source,
        country=place.country,
        subdivisions=sorted(place.subdivisions),
        zones=checks,
        next_allowed_at=next_at,
    )


def _refused(rule: str, at: datetime) -> WindowDecision:
    return WindowDecision(
        allowed=False,
        rule=rule,
        reason=_REASONS[rule],
        at=at,
        zone_source=None,
        country=None,
        subdivisions=[],
        zones=[],
        next_allowed_at=None,
    )


@dataclass(frozen=True, slots=True)
class _Day:
    """One local date in one zone: its hours, or the rule that closes it, and the tenant's
    rules that made it so."""

    start: time
    end: time
    closed: str | None
    sources: tuple[str, ...]
    opens: tuple[datetime, ...] = ()
    """The instants the window opens (the clock reaches ``start``; see ``instants_at``)."""
    closes: datetime | None = None
    """The first instant the clock reads ``end`` on that date: the window is over."""


class _Zone:
    """The rules as they apply when the person is taken to be in one zone."""

    def __init__(self, key: str, place: Place, rules: WindowRules) -> None:
        self.key = key
        self.tz: ZoneInfo = zone(key)
        countries = place.countries(key)

        def applies(region: Region | None) -> bool:
            return region is None or (
                region.country in countries
                and (region.subdivision is None or region.subdivision in place.subdivisions)
                and (region.zone is None or region.zone == key)
            )

        self.holidays = [h for h in rules.holidays if applies(h.region)]
        self.day_rules: list[tuple[str, DayRules]] = [
            ("tenant", rules),
            *((f"region {r.region.label()}", r) for r in rules.regions if applies(r.region)),
        ]
        self._days: dict[date, _Day] = {}

    def day(self, local_date: date) -> _Day:
        """The hours on ``local_date`` (computed once per decision)."""
        if local_date not in self._days:
            self._days[local_date] = self._compute_day(local_date)
        return self._days[local_date]

    def _compute_day(self, local_date: date) -> _Day:
        holidays = tuple(h.label() for h in self.holidays if h.falls_on(local_date))
        if holidays:
            return _Day(LEGAL_START, LEGAL_END, HOLIDAY, holidays)
        start, end, sources = LEGAL_START, LEGAL_END, []
        for source, day_rules in self.day_rules:
            windows = day_rules.hours(local_date)
            if windows is None:
                return _Day(start, end, CLOSED_DAY, (source,))
            if windows:
                sources.append(source)
            for window in windows:
                start, end = max(start, window.start), min(end, window.end)
        if start >= end:
            return _Day(start, end, CLOSED_DAY, tuple(sources))
        opens = tuple(instants_at(local_date, start, self.tz))
        closes = first_instant_at(local_date, end, self.tz)
        return _Day(start, end, None, tuple(sources), opens, closes)

    def rule_at(self, instant: datetime) -> str:
        """``window.allowed`` or the rule that blocks a call at ``instant`` in this zone."""
        local = wall(instant, self.tz)
        day = self.day(local.date())
        if day.closed is not None:
            return day.closed
        if local.time() < day.start:
            return TOO_EARLY
        if day.closes is None or instant >= day.closes:
            return TOO_LATE
        return ALLOWED

    def check(self, instant: datetime) -> ZoneCheck:
        rule = self.rule_at(instant)
        day = self.day(wall(instant, self.tz).date())
        return ZoneCheck(
            zone=self.key,
            local_time=instant.astimezone(self.tz),
            allowed=rule == ALLOWED,
            rule=rule,
            window=None if day.closed else f"{day.start}-{day.end}",
            sources=list(day.sources),
        )

    def next_open(self, instant: datetime, until: datetime) -> datetime | None:
        """The earliest instant ``>= instant`` allowed in this zone, before ``until``."""
        if self.rule_at(instant) == ALLOWED:
            return instant
        last = wall(until, self.tz).date()
        for candidate in self._openings(wall(instant, self.tz).date(), last):
            if candidate >= until:
                return None
            if candidate >= instant and self.rule_at(candidate) == ALLOWED:
                return candidate
        return None

    def _openings(self, first: date, last: date) -> Iterator[datetime]:
        """Every instant at which a window may open on local dates ``first``..``last``: where
        the clock reaches the start (twice in a repeated hour; at the transition in a gap)."""
        local_date = first
        while local_date <= last:
            day = self.day(local_date)
            if day.closed is None:
                yield from day.opens
            local_date += timedelta(days=1)


def _next_allowed(judges: list[_Zone], at: datetime) -> datetime | None:
    """The earliest instant ``>= at`` allowed in every zone: each zone pushes the candidate
    to its own next opening until all agree (nothing earlier can be allowed in all).

    Zones whose windows never meet would make this walk a year day by day; but while no
    zone changes its UTC offset and none has a holiday, the weeks repeat exactly, so a
    week without a common instant means none until that stretch ends, and the walk jumps
    there.
    """
    until = at + timedelta(days=SEARCH_DAYS)
    candidate = stretch_start = at
    stretch_end: datetime | None = None
    while True:
        opens = [judge.next_open(candidate, until) for judge in judges]
        if any(o is None for o in opens):
            return None
        latest = max(o for o in opens if o is not None)
        if latest == candidate:
            return candidate
        candidate = latest
        if candidate - stretch_start >= _WEEK_AND_A_DAY:
            if stretch_end is None:
                stretch_end = _stable_until(judges, stretch_start, until)
            if stretch_end > candidate:
                candidate = stretch_end
            stretch_start, stretch_end = candidate, None


_WEEK_AND_A_DAY = timedelta(days=8)


def _stable_until(judges: list[_Zone], start: datetime, until: datetime) -> datetime:
    """An instant no later than the first change after ``start`` in any zone's UTC offset
    and before any zone's next holiday (sampled daily, so up to a day early: safe)."""
    end = until
    for judge in judges:
        offset = start.astimezone(judge.tz).utcoffset()
        sample = start
        while sample < end:
            local = sample.astimezone(judge.tz)
            if local.utcoffset() != offset or any(h.falls_on(local.date()) for h in judge.holidays):
                end = min(end, sample - timedelta(days=1))
                break
            sample += timedelta(days=1)
    return end
