"""What the pacer is given and what it answers: plain, immutable values, so the engine can
build them from its rows and a simulator from its clock, and a decision can be logged as is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from .ledger import WindowCounts

SAFE_HARBOUR_RATE = 0.03


class PacingMode(StrEnum):
    """How a decision was paced (the engine emits an event when this changes)."""

    PREDICTIVE = "predictive"
    PROGRESSIVE = "progressive"


class PacingReason(StrEnum):
    """Why a decision was paced the way it was (stable codes for events and logs)."""

    PREDICTED = "predicted"  # predictive: over-dialled from the measured figures
    CONFIGURED = "configured"  # the campaign itself is progressive
    THIN_DATA = "thin_data"  # too few calls measured to trust the answer rate
    NEAR_CAP = "near_cap"  # the 30-day abandonment rate is close to the cap


@dataclass(frozen=True, slots=True)
class PacingPolicy:
    """A campaign's pacing settings.

    Args:
        max_abandon_rate: the cap on abandons per live answer over 30 days; 3 % is the safe
            harbour, a campaign may only go lower.
        fallback_at: fraction of the cap at which predictive falls back to progressive; a
            margin, because a rate measured over few calls moves fast.
        resume_below: fraction of the cap under which a campaign that fell back may go
            predictive again (lower than ``fallback_at``, so it does not flap).
        target: fraction of the cap each predictive decision aims its expected abandons at;
            under the fallback, so that the rate settles below it rather than bouncing.
        min_dials: resolved dials needed before the answer rate is trusted.
        min_live_answers: live answers needed before handle and answer times are trusted.
        lookahead: how far ahead the guard keeps the 30-day windows under the cap as old
            buckets leave them (one day: a rate safe today is still safe tomorrow morning
            even if the campaign makes no call in between).
        grace_seconds: how long after their greeting a person may wait for an agent before
            the call counts as abandoned (the rule's 2 s).
        machines_to_agents: whether answering machines are passed to agents (AMD policy),
            so that they need an agent like a person does.
    """

    max_abandon_rate: float = SAFE_HARBOUR_RATE
    fallback_at: float = 0.8
    resume_below: float = 0.65
    target: float = 0.4
    min_dials: int = 200
    min_live_answers: int = 40
    lookahead: timedelta = timedelta(days=1)
    grace_seconds: float = 2.0
    machines_to_agents: bool = False

    def __post_init__(self) -> None:
        if not 0.0 < self.max_abandon_rate <= SAFE_HARBOUR_RATE:
            raise ValueError("the abandonment cap must be above 0 and at most 3 %")
        if not 0.0 < self.target <= self.resume_below <= self.fallback_at <= 1.0:
            raise ValueError("expected 0 < target <= resume_below <= fallback_at <= 1")
        if self.min_dials < 1 or self.min_live_answers < 1 or self.grace_seconds < 0:
            raise ValueError("thresholds must be positive")


@dataclass(frozen=True, slots=True)
class AnswerStats:
    """What past dials of the campaign measured (the engine reads them from its attempts;
    recent ones, so that a change during the day shows)."""

    dials: int  # dials whose outcome is known
    live_answers: int
    machine_answers: int = 0
    average_time_to_answer: float = 10.0  # seconds from dial to a live answer
    average_talk_seconds: float = 120.0
    average_wrap_seconds: float = 10.0
    # Optional, ascending quantiles (e.g. 20) of recent dials' seconds from dial to a live
    # answer, and from dial to any outcome (answer, machine, busy, given up): with them and
    # the ages of the calls in flight, a call that has rung long without an answer counts
    # as the unlikely live answer it is, instead of as a fresh dial.
    live_answer_seconds: tuple[float, ...] = ()
    outcome_seconds: tuple[float, ...] = ()

    @property
    def live_rate(self) -> float:
        return self.live_answers / self.dials if self.dials else 0.0

    @property
    def machine_rate(self) -> float:
        return self.machine_answers / self.dials if self.dials else 0.0


@dataclass(frozen=True, slots=True)
class PacingSnapshot:
    """The live figures of one campaign at one moment.

    Agents are those of the campaign's queue/team who are logged in. Times are the engine's
    estimates: ``wrap_up_seconds_left`` is known when wrap-up has a limit (or estimated from
    the average), ``on_call_seconds_left`` is given only for calls whose remaining talk is
    known (e.g. a scripted call); the others are estimated from the average talk time.
    """

    agents_available: int
    stats: AnswerStats
    wrap_up_seconds_left: tuple[float, ...] = ()
    agents_on_call: int = 0
    on_call_seconds_left: tuple[float, ...] = ()
    calls_in_flight: int = 0  # dialled, not yet answered, failed or given up
    in_flight_seconds: tuple[float, ...] = ()  # how long each of them has rung, if known
    calls_waiting: int = 0  # answered by a person and waiting for an agent right now
    abandonment: tuple[WindowCounts, ...] = ()  # AbandonmentWindow.outlook(now, lookahead)

    def __post_init__(self) -> None:
        if min(self.agents_available, self.agents_on_call, self.calls_in_flight) < 0:
            raise ValueError("counts cannot be negative")
        if len(self.on_call_seconds_left) > self.agents_on_call:
            raise ValueError("more known remaining talk times than agents on call")
        if len(self.in_flight_seconds) > self.calls_in_flight:
            raise ValueError("more ring times than calls in flight")


@dataclass(frozen=True, slots=True)
class PacingDecision:
    """How many calls to start now, and why.

    ``abandon_rate`` is the highest rate among the 30-day windows the guard watched; the
    ``expected_*`` figures are the model's view of the calls pending after these dials
    (zero when pacing progressively, which never dials for an agent who is not free).
    """

    calls: int
    mode: PacingMode
    reason: PacingReason
    detail: str
    abandon_rate: float
    expected_live_answers: float = 0.0
    expected_free_agents: float = 0.0
    expected_abandons: float = 0.0
