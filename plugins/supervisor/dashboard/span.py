"""The span a summary covers: calendar days in the organization's time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock
from zoneinfo import ZoneInfo

from fastapi.exceptions import RequestValidationError

from plugins.queues import day_of

MAX_DAYS = 366


@dataclass(frozen=True, slots=True)
class Span:
    first: date
    last: date
    """Inclusive."""
    zone: str
    start: datetime
    """Midnight starting ``first`` in the zone (aware)."""
    end: datetime
    """Midnight after ``last`` in the zone (exclusive)."""


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, clock(0), tzinfo=zone)


def span_of(zone_name: str, now: datetime, first: date | None, last: date | None) -> Span:
    """``first`` to ``last`` inclusive (both default to today; one given alone: that day to
    today, or that single day for ``to``); a 422 naming the query parameter otherwise."""
    today = day_of(zone_name, now)
    zone = ZoneInfo(today.zone)
    if first is None:
        first = last if last is not None else today.day
    if last is None:
        last = max(first, today.day)
    if first > last:
        raise _invalid("from", "must not be after `to`")
    if (last - first).days + 1 > MAX_DAYS:
        raise _invalid("to", f"a range spans at most {MAX_DAYS} days")
    return Span(
        first=first,
        last=last,
        zone=today.zone,
        start=_midnight(first, zone),
        end=_midnight(last + timedelta(days=1), zone),
    )


def _invalid(field: str, message: str) -> RequestValidationError:
    return RequestValidationError(
        [{"loc": ("query", field), "msg": message, "type": "value_error", "input": None}]
    )
