"""Business hours: is the contact center open at a given moment?

Rules for flow authors:

- Hours are local wall-clock times in one IANA time zone (``Europe/Prague``,
  ``America/New_York``); daylight saving changes are followed automatically, so
  09:00-17:00 means 09:00-17:00 on the office clock all year.
- ``weekly`` lists opening windows per day (``mon`` ... ``sun``); a day that is not listed
  is closed. A window is ``open``-``close`` in ``HH:MM``; it includes the opening minute
  and excludes the closing one (09:00-17:00 is open at 16:59, closed at 17:00). ``24:00``
  closes at midnight. A window that closes before it opens runs past midnight:
  ``fri 22:00-06:00`` is open from Friday 22:00 until Saturday 06:00. Opening and closing
  at the same time is refused.
- A holiday closes its whole local calendar day, 00:00 to 24:00, whatever the windows say,
  including the part of an overnight window that started the evening before. The night
  after a holiday belongs to the next day: an overnight window from the holiday evening
  is closed until midnight and open again after it, unless that day is a holiday too.
- A holiday is one ``date``, or ``date`` to ``until`` (both included). ``yearly`` repeats
  it on the same month and day every year (a range may cross New Year, Dec 24 - Jan 2); a
  yearly holiday on February 29 only happens in leap years.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

__all__ = ["BusinessHours", "Holiday", "HoursVerdict", "TimeWindow", "Weekday", "check"]

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


class TimeWindow(BaseModel):
    """Open from ``open`` until ``close`` local time; past midnight when close < open."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    open: str
    close: str

    @field_validator("open")
    @classmethod
    def _valid_open(cls, value: str) -> str:
        if _CLOCK.fullmatch(value) is None:
            raise ValueError(f"opening time {value!r} must be HH:MM between 00:00 and 23:59")
        return value

    @field_validator("close")
    @classmethod
    def _valid_close(cls, value: str) -> str:
        if value != "24:00" and _CLOCK.fullmatch(value) is None:
            raise ValueError(f"closing time {value!r} must be HH:MM between 00:00 and 24:00")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> TimeWindow:
        if self.opens_at == self.closes_at:
            raise ValueError(f"window {self.open}-{self.close} opens and closes at the same time")
        return self

    @property
    def opens_at(self) -> int:
        """Minutes after local midnight."""
        return _minutes(self.open)

    @property
    def closes_at(self) -> int:
        """Minutes after local midnight; 1440 for 24:00."""
        return _minutes(self.close)

    @property
    def overnight(self) -> bool:
        return self.closes_at < self.opens_at

    def open_on_its_day(self, minute: float) -> bool:
        """Open at ``minute`` of the day the window starts on."""
        if self.overnight:
            return minute >= self.opens_at
        return self.opens_at <= minute < self.closes_at

    def open_on_next_day(self, minute: float) -> bool:
        """Open at ``minute`` of the following day (the part after midnight)."""
        return self.overnight and minute < self.closes_at


class Holiday(BaseModel):
    """A closed day or inclusive range of days, optionally every year."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    date: dt.date
    name: str = ""
    until: dt.date | None = None
    yearly: bool = False

    @model_validator(mode="after")
    def _valid_range(self) -> Holiday:
        if self.until is None:
            return self
        if self.until < self.date:
            raise ValueError(f"holiday ends ({self.until}) before it starts ({self.date})")
        if self.yearly and self.until - self.date >= dt.timedelta(days=365):
            raise ValueError("a yearly holiday must be shorter than a year")
        return self

    def covers(self, day: dt.date) -> bool:
        """True when the local calendar ``day`` falls on this holiday."""
        last = self.until or self.date
        if not self.yearly:
            return self.date <= day <= last
        first_key = (self.date.month, self.date.day)
        last_key = (last.month, last.day)
        key = (day.month, day.day)
        if first_key <= last_key:
            return first_key <= key <= last_key
        return key >= first_key or key <= last_key  # the range crosses New Year


class BusinessHours(BaseModel):
    """Weekly opening windows and holidays in one time zone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str
    weekly: dict[Weekday, list[TimeWindow]]
    holidays: list[Holiday] = []

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}: use an IANA name such as 'Europe/Prague'"
            ) from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def windows(self, day: dt.date) -> list[TimeWindow]:
        return self.weekly.get(WEEKDAYS[day.weekday()], [])

    def holiday_on(self, day: dt.date) -> Holiday | None:
        return next((holiday for holiday in self.holidays if holiday.covers(day)), None)


class HoursVerdict(BaseModel):
    """The answer for one moment, with the local time it was judged at."""

    model_config = ConfigDict(frozen=True)

    state: Literal["open", "closed", "holiday"]
    holiday: str | None = None
    local_time: dt.datetime


def _minute_of_day(moment: dt.time) -> float:
    return moment.hour * 60 + moment.minute + moment.second / 60 + moment.microsecond / 6e7


def check(hours: BusinessHours, at: dt.datetime) -> HoursVerdict:
    """Open, closed or holiday at the instant ``at`` (timezone-aware), on the local clock."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("check() needs a timezone-aware datetime")
    local = at.astimezone(hours.zone)
    today = local.date()
    holiday = hours.holiday_on(today)
    if holiday is not None:
        return HoursVerdict(state="holiday", holiday=holiday.name, local_time=local)
    minute = _minute_of_day(local.time())
    is_open = any(window.open_on_its_day(minute) for window in hours.windows(today)) or any(
        window.open_on_next_day(minute) for window in hours.windows(today - dt.timedelta(days=1))
    )
    return HoursVerdict(state="open" if is_open else "closed", local_time=local)
