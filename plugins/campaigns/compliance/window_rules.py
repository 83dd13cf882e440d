"""The calling-window rules a tenant configures: JSON in, JSON out, never looser than the law.

The legal window is 08:00-21:00 in the called person's local time. A tenant may tighten it
(everywhere, per weekday, per region, per holiday) but never widen it: a window that starts
before 08:00 or ends after 21:00 is refused when the rules are read.
"""

from __future__ import annotations

import datetime as dt
import re
from datetime import date, time
from enum import StrEnum
from typing import Annotated, Self
from zoneinfo import ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from plugins.campaigns.compliance.localtime import zone

ClockTime = Annotated[
    time,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$",
            "description": "A local wall-clock time, `HH:MM` (answers carry `HH:MM:SS`).",
            "examples": ["09:00"],
        }
    ),
]
"""A time of day without a UTC offset, described as such in the OpenAPI document (JSON
Schema's ``format: time`` is RFC 3339's, which requires an offset)."""

LEGAL_START = time(8, 0)
LEGAL_END = time(21, 0)
"""Calls may be placed from 08:00 (inclusive) until 21:00 (exclusive), local time."""

_COUNTRY = re.compile(r"^[A-Z]{2}$")
_SUBDIVISION = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}$")


class Weekday(StrEnum):
    """Days as the rules name them."""

    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @classmethod
    def of(cls, day: date) -> Weekday:
        return _WEEK[day.weekday()]


_WEEK = tuple(Weekday)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LocalWindow(_Frozen):
    """Hours in the called person's local time: from ``start`` (inclusive) to ``end``
    (exclusive), inside the legal 08:00-21:00."""

    start: ClockTime = LEGAL_START
    end: ClockTime = LEGAL_END

    @field_validator("start", "end")
    @classmethod
    def _naive(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("a window is in local time: give it without a UTC offset")
        return value

    @model_validator(mode="after")
    def _within_the_law(self) -> Self:
        if self.start >= self.end:
            raise ValueError("a window must start before it ends")
        if self.start < LEGAL_START or self.end > LEGAL_END:
            raise ValueError(
                "a window may only be stricter than the legal 08:00-21:00 local time "
                f"(got {self.start.isoformat()}-{self.end.isoformat()})"
            )
        return self


class Region(_Frozen):
    """Where a rule applies: a country, optionally one subdivision of it or one IANA zone."""

    country: str
    """ISO 3166-1 alpha-2 (``US``, ``CZ``)."""
    subdivision: str | None = None
    """ISO 3166-2 (``US-FL``), matched against the number's area and the contact's address."""
    zone: str | None = None
    """IANA key: the rule applies only when the person is taken to be in this zone."""

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        value = value.strip().upper()
        if not _COUNTRY.match(value):
            raise ValueError("country must be an ISO 3166-1 alpha-2 code such as 'US'")
        return value

    @field_validator("subdivision")
    @classmethod
    def _subdivision(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().upper()
        if not _SUBDIVISION.match(value):
            raise ValueError("subdivision must be an ISO 3166-2 code such as 'US-FL'")
        return value

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                zone(value)
            except (ZoneInfoNotFoundError, ValueError, OSError):
                raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value

    def label(self) -> str:
        """``US``, ``US-FL``, ``US America/Los_Angeles``: how decisions name the region."""
        return " ".join(p for p in (self.subdivision or self.country, self.zone) if p)

    @model_validator(mode="after")
    def _subdivision_in_country(self) -> Self:
        if self.subdivision and not self.subdivision.startswith(f"{self.country}-"):
            raise ValueError(f"subdivision {self.subdivision} is not in {self.country}")
        return self


class DayRules(_Frozen):
    """Tightening that applies on given days: one window for every day, one per weekday
    (both apply), and days with no calls at all."""

    window: LocalWindow | None = None
    weekdays: dict[Weekday, LocalWindow] = Field(default_factory=dict)
    closed_days: frozenset[Weekday] = frozenset()

    def hours(self, day: date) -> list[LocalWindow] | None:
        """The windows that apply on ``day``; ``None`` when the day is closed."""
        weekday = Weekday.of(day)
        if weekday in self.closed_days:
            return None
        found = [w for w in (self.window, self.weekdays.get(weekday)) if w is not None]
        return found


class RegionWindows(DayRules):
    """Stricter hours in one region (e.g. ``US-FL``: 08:00-20:00, closed on Sundays)."""

    region: Region

    @model_validator(mode="after")
    def _restricts_something(self) -> Self:
        if self.window is None and not self.weekdays and not self.closed_days:
            raise ValueError("a region rule must give a window, weekday windows or closed days")
        return self


class Holiday(_Frozen):
    """A local date with no calls, once or every year, everywhere or in one region."""

    date: dt.date
    yearly: bool = False
    """Every year on the same month and day (a 29 February one only in leap years)."""
    region: Region | None = None
    name: str = Field(default="", max_length=100)

    def label(self) -> str:
        """``holiday 2026-12-25 yearly (Christmas) in CZ``: how decisions name it."""
        parts = ["holiday", self.date.isoformat()]
        parts += ["yearly"] if self.yearly else []
        parts += [f"({self.name})"] if self.name else []
        parts += [f"in {self.region.label()}"] if self.region else []
        return " ".join(parts)

    def falls_on(self, day: dt.date) -> bool:
        if self.yearly:
            return (day.month, day.day) == (self.date.month, self.date.day)
        return day == self.date


class WindowRules(DayRules):
    """A tenant's calling-window rules; the defaults are the legal window and nothing else.

    ``window`` / ``weekdays`` / ``closed_days`` apply everywhere; ``regions`` add their own
    where they match; on a ``holidays`` date no call is placed.
    """

    regions: list[RegionWindows] = Field(default_factory=list, max_length=500)
    holidays: list[Holiday] = Field(default_factory=list, max_length=2000)
