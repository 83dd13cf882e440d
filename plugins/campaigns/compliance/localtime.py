"""Wall-clock times to instants, exactly, across DST gaps and repeated hours.

A local time may not exist (spring forward) or exist twice (fall back). The rules here need
"the first instant of a local date at which the clock reads ``w`` or later": in a gap that is
the transition itself, which ``datetime`` does not give directly, so it is searched for.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

_RESOLUTION = timedelta(microseconds=1)


@lru_cache(maxsize=1024)
def zone(key: str) -> ZoneInfo:
    """The zone for an IANA key (raises ``ZoneInfoNotFoundError`` / ``ValueError``)."""
    return ZoneInfo(key)


def wall(instant: datetime, tz: ZoneInfo) -> datetime:
    """``instant`` as a naive local date and time in ``tz``."""
    return instant.astimezone(tz).replace(tzinfo=None, fold=0)


def instants_at(day: date, at: time, tz: ZoneInfo) -> list[datetime]:
    """Every UTC instant at which the clock in ``tz`` reads ``day`` ``at``, earliest first.

    Two in a repeated hour, one usually; in a gap none exists, and the list holds the
    transition instead (the first instant at which the clock reads ``at`` or later).
    """
    naive = datetime.combine(day, at)
    earlier, later = naive.replace(tzinfo=tz, fold=0), naive.replace(tzinfo=tz, fold=1)
    if earlier.utcoffset() == later.utcoffset():  # the usual case: no transition near
        return [earlier.astimezone(UTC)]
    found: set[datetime] = set()
    for fold in (0, 1):
        instant = naive.replace(tzinfo=tz, fold=fold).astimezone(UTC)
        if wall(instant, tz) == naive:
            found.add(instant)
    if found:
        return sorted(found)
    return [_gap_end(naive, tz)]


def first_instant_at(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The first instant at which the clock in ``tz`` reads ``day`` ``at`` or later."""
    return instants_at(day, at, tz)[0]


def _gap_end(naive: datetime, tz: ZoneInfo) -> datetime:
    """The transition that skips over ``naive``: the first instant whose wall clock is later."""
    ends = sorted(naive.replace(tzinfo=tz, fold=f).astimezone(UTC) for f in (0, 1))
    low, high = ends  # the clock reads before ``naive`` at ``low``, after it at ``high``
    while high - low > _RESOLUTION:
        middle = low + (high - low) / 2
        if wall(middle, tz) >= naive:
            high = middle
        else:
            low = middle
    return high
