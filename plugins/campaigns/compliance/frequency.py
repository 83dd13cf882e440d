"""Frequency caps: at most N attempts per contact per local day / week, across campaigns.

Days and weeks (Monday to Sunday) are the called person's: counted in each candidate zone
(the ones :func:`~plugins.campaigns.compliance.window.decide` considered), and a cap reached
in any of them blocks. Rules: ``frequency.week`` (checked first: it blocks longest),
``frequency.day``, else ``frequency.allowed``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from plugins.campaigns.compliance.localtime import first_instant_at, wall, zone

ALLOWED = "frequency.allowed"
DAY = "frequency.day"
WEEK = "frequency.week"
RULES = (ALLOWED, DAY, WEEK)
"""Every ``rule`` a frequency decision can carry (stable codes)."""


class FrequencyCap(BaseModel):
    """The tenant's caps; ``None`` means no cap of that length."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    per_day: int | None = Field(default=None, ge=1, le=100)
    per_week: int | None = Field(default=None, ge=1, le=700)

    def check(
        self, attempts: Iterable[datetime], at: datetime, zones: Sequence[str]
    ) -> FrequencyDecision:
        """Whether one more attempt at ``at`` stays within the caps.

        Args:
            attempts: when the contact was already dialled, by any of the tenant's campaigns
                (timezone-aware); attempts after ``at`` are not counted.
            at: the instant of the dial about to be placed (timezone-aware).
            zones: the called person's candidate IANA zones (at least one).
        """
        attempts = list(attempts)
        if at.tzinfo is None or any(a.tzinfo is None for a in attempts):
            raise ValueError("frequency caps need timezone-aware instants")
        if not zones:
            raise ValueError("frequency caps need at least one zone")
        at = at.astimezone(UTC)
        past = [a.astimezone(UTC) for a in attempts if a <= at]
        counts: dict[str, dict[str, int]] = {}
        blocked: dict[str, datetime] = {}
        for key in zones:
            tz = zone(key)
            today = wall(at, tz).date()
            monday = today - timedelta(days=today.weekday())
            days = [wall(a, tz).date() for a in past]
            counts[key] = {
                "day": sum(d == today for d in days),
                "week": sum(monday <= d < monday + timedelta(days=7) for d in days),
            }
            if self.per_week is not None and counts[key]["week"] >= self.per_week:
                _later(blocked, WEEK, _midnight(monday + timedelta(days=7), key))
            if self.per_day is not None and counts[key]["day"] >= self.per_day:
                _later(blocked, DAY, _midnight(today + timedelta(days=1), key))
        rule = WEEK if WEEK in blocked else DAY if DAY in blocked else ALLOWED
        return FrequencyDecision(
            allowed=rule == ALLOWED,
            rule=rule,
            at=at,
            per_day=self.per_day,
            per_week=self.per_week,
            counts=counts,
            next_allowed_at=blocked.get(rule, at),
        )


class FrequencyDecision(BaseModel):
    """Whether another attempt is within the caps; JSON-able, to store with the attempt."""

    model_config = ConfigDict(frozen=True)

    allowed: bool
    rule: str
    """One of :data:`RULES`."""
    at: AwareDatetime
    per_day: int | None
    per_week: int | None
    counts: dict[str, dict[str, int]]
    """Per zone: the attempts already made on that local ``day`` and in that local ``week``."""
    next_allowed_at: AwareDatetime
    """When the blocking cap no longer blocks (the next local midnight or Monday, in UTC);
    the calling window still has to allow that instant."""

    def as_record(self) -> dict[str, Any]:
        """The decision as JSON values."""
        return self.model_dump(mode="json")


def _midnight(day: date, key: str) -> datetime:
    return first_instant_at(day, time(0, 0), zone(key))


def _later(found: dict[str, datetime], rule: str, instant: datetime) -> None:
    found[rule] = max(found.get(rule, instant), instant)
