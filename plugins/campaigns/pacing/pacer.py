"""How many calls to start now: progressive, or predictive under the abandonment guard.

Progressive dials one call per free agent, so every person who answers finds an agent.
Predictive dials more, because most dials are not answered by a person: it sizes the calls
pending (in flight plus new) so that the people expected to answer match the agents expected
free when they answer, and limits that over-dial twice:

- **the model**: the expected abandons of the pending calls (people answering beyond the
  agents free, under a normal approximation of both counts) may be at most ``target`` times
  the cap of their expected live answers, tapering to none as the 30-day rate nears the
  fallback point;
- **the guard**, which does not trust the model: even if *every* pending call were answered
  by a person and no further agent became free, the 30-day windows now and over the
  lookahead would stay at or under the cap. This is what makes the cap hold whatever the
  answer rate does; the model only decides how close to it the pacer goes.

When the data is too thin to trust, or the 30-day rate is near the cap, it paces
progressively and says so.
"""

from __future__ import annotations

import bisect
import functools
import math

from .figures import (
    PacingDecision,
    PacingMode,
    PacingPolicy,
    PacingReason,
    PacingSnapshot,
)
from .ledger import WindowCounts

_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)
_DEFAULT_POLICY = PacingPolicy()


def pace(
    snapshot: PacingSnapshot,
    *,
    policy: PacingPolicy = _DEFAULT_POLICY,
    campaign_mode: PacingMode = PacingMode.PREDICTIVE,
    previous_mode: PacingMode | None = None,
) -> PacingDecision:
    """The calls to start now for a campaign in ``campaign_mode``.

    ``previous_mode`` is the mode of the campaign's last decision: a campaign that fell back
    to progressive resumes predictive only once its rate is under ``resume_below``.
    """
    cap = policy.max_abandon_rate
    windows = snapshot.abandonment or (WindowCounts(),)
    rate = max(window.rate for window in windows)
    slack = min(window.slack(cap) for window in windows)
    free = max(0, snapshot.agents_available - snapshot.calls_waiting)
    in_flight = snapshot.calls_in_flight

    def progressive(reason: PacingReason, detail: str) -> PacingDecision:
        calls = max(0, free - in_flight)
        return PacingDecision(calls, PacingMode.PROGRESSIVE, reason, detail, rate)

    if campaign_mode is PacingMode.PROGRESSIVE:
        return progressive(PacingReason.CONFIGURED, "the campaign is progressive")
    stats = snapshot.stats
    if stats.dials < policy.min_dials or stats.live_answers < policy.min_live_answers:
        return progressive(
            PacingReason.THIN_DATA,
            f"{stats.dials} dials and {stats.live_answers} live answers measured; predictive "
            f"pacing needs {policy.min_dials} and {policy.min_live_answers}",
        )
    threshold = (
        policy.resume_below if previous_mode is PacingMode.PROGRESSIVE else policy.fallback_at
    )
    if rate >= cap * threshold:
        return progressive(
            PacingReason.NEAR_CAP,
            f"30-day abandonment {rate:.2%} is at or over {threshold:.0%} of the {cap:.1%} cap",
        )
    if slack <= 0:  # an empty window (e.g. after a long pause): no answer to absorb an abandon
        return progressive(PacingReason.THIN_DATA, "no live answer in the 30-day window yet")

    answer_rate = stats.live_rate + (stats.machine_rate if policy.machines_to_agents else 0.0)
    if answer_rate <= 0.0:
        return progressive(PacingReason.THIN_DATA, "no dial has been answered by a person yet")
    horizon = stats.average_time_to_answer + policy.grace_seconds
    supply, _ = expected_free_agents(snapshot, horizon, free)  # the most agents it can meet
    flying, flying_variance = expected_live_in_flight(snapshot, answer_rate, policy)
    target_rate = cap * policy.target * _taper(rate, cap, policy)

    # The people of calls already ringing answer sooner than those of new calls, when fewer
    # agents have freed up: the supply they meet is taken at a horizon between the two,
    # weighted by how many people each group is expected to bring.
    ages = snapshot.in_flight_seconds
    ringing = sum(ages) / len(ages) if ages else stats.average_time_to_answer / 2.0
    soon = max(0.0, stats.average_time_to_answer - ringing) + policy.grace_seconds

    def excess(calls: int) -> float:
        fresh = calls * answer_rate
        demand = flying + fresh
        variance = flying_variance + fresh * (1.0 - answer_rate)
        meets = (flying * soon + fresh * horizon) / demand if demand > 0 else horizon
        agents, agents_variance = expected_free_agents(snapshot, meets, free)
        return expected_excess(demand, variance, agents, agents_variance)

    # Never aim at more people than agents expected free, nor beyond what the guard allows
    # if every pending call were answered and nobody else became free.
    needed = math.floor((supply - flying) / answer_rate + 1e-9)
    guarded = math.floor((slack + free) / (1.0 - cap) + 1e-9) - in_flight
    low, high = 0, max(0, min(needed, guarded))
    while low < high:  # the most new calls whose expected abandons fit the target
        middle = (low + high + 1) // 2
        if excess(middle) <= target_rate * (flying + middle * answer_rate):
            low = middle
        else:
            high = middle - 1
    calls = max(low, min(free - in_flight, guarded), 0)  # never fewer than progressive
    return PacingDecision(
        calls,
        PacingMode.PREDICTIVE,
        PacingReason.PREDICTED,
        f"{calls} new and {in_flight} pending calls for {supply:.1f} agents expected free in "
        f"{horizon:.0f} s at a {answer_rate:.0%} answer rate; 30-day abandonment {rate:.2%}",
        rate,
        expected_live_answers=flying + calls * answer_rate,
        expected_free_agents=supply,
        expected_abandons=excess(calls),
    )


def expected_live_in_flight(
    snapshot: PacingSnapshot, answer_rate: float, policy: PacingPolicy
) -> tuple[float, float]:
    """Mean and variance of the people still to answer among the calls in flight.

    Without ring times (or measured answer times), each call counts as a fresh dial. With
    them, a call that has rung ``a`` seconds is a live answer with the chance that a dial
    still unresolved at ``a`` turns out live: ``p * P(live answer after a) / P(any outcome
    after a)``, read from the measured quantiles.
    """
    stats = snapshot.stats
    known = snapshot.in_flight_seconds
    usable = known and stats.live_answer_seconds and stats.outcome_seconds
    if not usable or policy.machines_to_agents:
        count = snapshot.calls_in_flight
        return count * answer_rate, count * answer_rate * (1.0 - answer_rate)
    table = _live_share_by_second(stats.live_answer_seconds, stats.outcome_seconds)
    size, tail = len(table), table[-1]
    shares = [table[int(age)] if age < size else tail for age in known]
    chances = [min(1.0, answer_rate * share) for share in shares]
    unknown = snapshot.calls_in_flight - len(known)
    mean = sum(chances) + unknown * answer_rate
    variance = sum(c * (1.0 - c) for c in chances) + unknown * answer_rate * (1 - answer_rate)
    return mean, variance


@functools.lru_cache(maxsize=64)
def _live_share_by_second(
    live: tuple[float, ...], outcomes: tuple[float, ...]
) -> tuple[float, ...]:
    """``P(live answer after a) / P(any outcome after a)`` per whole second ``a`` of ringing
    (the last entry: any longer); times the answer rate, a ringing call's live chance."""

    def after(quantiles: tuple[float, ...], age: float) -> float:
        return 1.0 - bisect.bisect_right(quantiles, age) / len(quantiles)

    shares = []
    for second in range(math.ceil(outcomes[-1]) + 2):
        pending = after(outcomes, second)
        shares.append(after(live, second) / pending if pending else 0.0)
    return tuple(shares)


def expected_free_agents(
    snapshot: PacingSnapshot, horizon: float, free: int
) -> tuple[float, float]:
    """Mean and variance of the agents free within ``horizon`` seconds: those free now,
    those whose wrap-up ends by then, and those on a call that will end with its wrap-up by
    then (known remaining talk, else an exponential remaining talk of the average length,
    the memoryless guess when nothing is known about how far along a call is)."""
    stats = snapshot.stats
    wrap = stats.average_wrap_seconds
    finishing = sum(1 for left in snapshot.wrap_up_seconds_left if left <= horizon)
    finishing += sum(1 for left in snapshot.on_call_seconds_left if left + wrap <= horizon)
    unknown = snapshot.agents_on_call - len(snapshot.on_call_seconds_left)
    chance = 0.0
    if unknown and horizon > wrap and stats.average_talk_seconds > 0:
        chance = 1.0 - math.exp(-(horizon - wrap) / stats.average_talk_seconds)
    mean = free + finishing + unknown * chance
    return mean, unknown * chance * (1.0 - chance)


def expected_excess(
    demand: float, demand_variance: float, supply: float, supply_variance: float
) -> float:
    """Expected people answering beyond the agents free, E[(D - S)+], with the people D and
    the agents S taken as independent normals of the given means and variances (the guard,
    not this, is what holds the cap when the approximation is off)."""
    mean = demand - supply
    deviation = math.sqrt(demand_variance + supply_variance)
    if deviation <= 0.0:
        return max(0.0, mean)
    z = mean / deviation
    cdf = 0.5 * (1.0 + math.erf(z / _SQRT2))
    pdf = math.exp(-0.5 * z * z) / _SQRT2PI
    return mean * cdf + deviation * pdf


def _taper(rate: float, cap: float, policy: PacingPolicy) -> float:
    """1 while the 30-day rate is under the target, falling to 0 at the fallback point: the
    nearer the cap, the less the pacer risks."""
    low, high = cap * policy.target, cap * policy.fallback_at
    if rate <= low:
        return 1.0
    if high <= low:
        return 0.0
    return max(0.0, (high - rate) / (high - low))
