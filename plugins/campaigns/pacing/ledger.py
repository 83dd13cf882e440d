"""The rolling 30-day abandonment ledger of one campaign.

The FTC safe harbour caps abandoned calls at 3 % of live-answered calls measured over 30
days, so the pacer must know not only the rate now but how much room is left: this ledger
keeps live answers and abandons in time buckets (an hour by default), which the engine
persists as rows and rebuilds the ledger from, and answers "what is the rate" and "how many
more abandons are allowed" for the window now and for the windows of the next hours, when old
buckets (and their answers) leave the window.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DEFAULT_WINDOW = timedelta(days=30)
DEFAULT_BUCKET = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class BucketCounts:
    """One stored bucket: the live answers and abandons of the bucket starting at ``start``."""

    start: datetime
    answered: int
    abandoned: int


@dataclass(frozen=True, slots=True)
class WindowCounts:
    """Live answers and abandons counted in one 30-day window."""

    answered: int = 0
    abandoned: int = 0

    @property
    def rate(self) -> float:
        """Abandons per live answer (0 before the first answer: nothing was abandoned)."""
        return self.abandoned / self.answered if self.answered else 0.0

    def slack(self, cap: float) -> float:
        """Abandons the window could still absorb at ``cap`` (negative: over the cap)."""
        return cap * self.answered - self.abandoned

    def allowed_abandons(self, cap: float, more_answers: int = 0) -> int:
        """How many more abandons keep the rate at or under ``cap`` if ``more_answers``
        further live answers come first (abandoned calls are live answers too, so each one
        also adds to the denominator)."""
        room = (cap * (self.answered + more_answers) - self.abandoned) / (1.0 - cap)
        return max(0, math.floor(room + 1e-9))


class AbandonmentWindow:
    """Live answers and abandons in buckets over a trailing window.

    The window at ``now`` holds the bucket containing ``now`` and the ``window / bucket - 1``
    buckets before it. Time only moves forward: buckets that left the window are dropped,
    and counts recorded for them are ignored (they can no longer matter).
    """

    def __init__(
        self, *, window: timedelta = DEFAULT_WINDOW, bucket: timedelta = DEFAULT_BUCKET
    ) -> None:
        if bucket <= timedelta(0) or window < bucket or window % bucket:
            raise ValueError("the window must be a whole, positive number of buckets")
        self._bucket_seconds = bucket.total_seconds()
        self._size = window // bucket
        self._buckets: deque[list[int]] = deque()  # [index, answered, abandoned], ascending
        self._answered = 0
        self._abandoned = 0
        self._newest = -(2**62)

    @classmethod
    def from_counts(
        cls,
        counts: Iterable[BucketCounts],
        *,
        window: timedelta = DEFAULT_WINDOW,
        bucket: timedelta = DEFAULT_BUCKET,
    ) -> AbandonmentWindow:
        """The ledger rebuilt from stored buckets (any order; several rows may share one
        bucket, e.g. per-hour rows loaded into a per-day ledger)."""
        ledger = cls(window=window, bucket=bucket)
        for row in sorted(counts, key=lambda row: row.start):
            ledger.add(row.start, answered=row.answered, abandoned=row.abandoned)
        return ledger

    def _index(self, at: datetime) -> int:
        if at.tzinfo is None:
            raise ValueError("times must be timezone-aware")
        return math.floor(at.timestamp() / self._bucket_seconds)

    def record(self, at: datetime, *, abandoned: bool) -> None:
        """One live-answered call at ``at``, abandoned or connected to an agent."""
        self.add(at, answered=1, abandoned=int(abandoned))

    def add(self, at: datetime, *, answered: int, abandoned: int = 0) -> None:
        """Counts for the bucket containing ``at``; an abandon is also a live answer, so
        ``abandoned`` may not exceed ``answered``."""
        if answered < 0 or abandoned < 0 or abandoned > answered:
            raise ValueError("counts must satisfy 0 <= abandoned <= answered")
        index = self._index(at)
        self._advance(max(index, self._newest))
        if index <= self._newest - self._size:
            return  # older than the window: it can no longer count
        if not self._buckets or self._buckets[-1][0] < index:
            self._buckets.append([index, 0, 0])
        last = self._buckets[-1]  # the usual case: the current bucket
        entry = last if last[0] == index else self._late_entry(index)
        entry[1] += answered
        entry[2] += abandoned
        self._answered += answered
        self._abandoned += abandoned

    def _late_entry(self, index: int) -> list[int]:
        position = bisect.bisect_left(self._buckets, index, key=lambda item: item[0])
        if self._buckets[position][0] != index:  # a late count for an older bucket (rebuilds)
            self._buckets.insert(position, [index, 0, 0])
        return self._buckets[position]

    def _advance(self, index: int) -> None:
        if index < self._newest:
            return
        self._newest = index
        oldest_kept = index - self._size + 1
        while self._buckets and self._buckets[0][0] < oldest_kept:
            _, answered, abandoned = self._buckets.popleft()
            self._answered -= answered
            self._abandoned -= abandoned

    def totals(self, now: datetime) -> WindowCounts:
        """The counts of the window ending at ``now``."""
        self._advance(self._index(now))
        return WindowCounts(self._answered, self._abandoned)

    def rate(self, now: datetime) -> float:
        """The 30-day abandonment rate at ``now``."""
        return self.totals(now).rate

    def allowed_abandons(self, now: datetime, *, cap: float, more_answers: int = 0) -> int:
        """How many more abandons the window at ``now`` allows at ``cap`` if ``more_answers``
        further live answers come first."""
        return self.totals(now).allowed_abandons(cap, more_answers)

    def outlook(self, now: datetime, lookahead: timedelta) -> tuple[WindowCounts, ...]:
        """The counts recorded so far that the windows ending between ``now`` and
        ``now + lookahead`` will hold: the window now, then one more each time a bucket
        leaves (the last is empty when every bucket has left).

        If the campaign stopped now, these would be those windows' counts: old answers leave
        before new ones come, so a rate safely under the cap now can rise over it tomorrow.
        The pacer keeps every one of them under the cap.
        """
        current = self._index(now)
        self._advance(current)
        steps = max(0, math.ceil(lookahead.total_seconds() / self._bucket_seconds))
        leaving = current + steps - self._size + 1  # buckets before this leave in time
        answered, abandoned = self._answered, self._abandoned
        result = [WindowCounts(answered, abandoned)]
        for index, bucket_answered, bucket_abandoned in self._buckets:
            if index >= leaving:
                break
            answered -= bucket_answered
            abandoned -= bucket_abandoned
            result.append(WindowCounts(answered, abandoned))
        return tuple(result)

    def buckets(self) -> tuple[BucketCounts, ...]:
        """The buckets still in the window, oldest first (what the engine stores)."""
        seconds = self._bucket_seconds
        return tuple(
            BucketCounts(datetime.fromtimestamp(index * seconds, UTC), answered, abandoned)
            for index, answered, abandoned in self._buckets
        )
