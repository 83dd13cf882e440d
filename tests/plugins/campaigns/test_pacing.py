"""The pacing engine: the 30-day abandonment ledger and the pacer's decisions."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from plugins.campaigns.pacing import (
    AbandonmentWindow,
    AnswerStats,
    BucketCounts,
    PacingMode,
    PacingPolicy,
    PacingReason,
    PacingSnapshot,
    WindowCounts,
    expected_excess,
    expected_free_agents,
    expected_live_in_flight,
    pace,
)

NOW = datetime(2027, 3, 1, 12, 30, tzinfo=UTC)
STATS = AnswerStats(
    dials=2000,
    live_answers=500,
    machine_answers=300,
    average_time_to_answer=8.0,
    average_talk_seconds=120.0,
    average_wrap_seconds=10.0,
)
ROOMY = (WindowCounts(answered=20_000, abandoned=100),)  # 0.5 %: far from the cap


def snapshot(**changes: object) -> PacingSnapshot:
    values: dict[str, object] = {"agents_available": 10, "stats": STATS, "abandonment": ROOMY}
    values.update(changes)
    return PacingSnapshot(**values)  # type: ignore[arg-type]


# --- the ledger -------------------------------------------------------------------------------


def test_the_rate_counts_abandons_per_live_answer_in_the_window() -> None:
    ledger = AbandonmentWindow()
    for minute in range(100):
        ledger.record(NOW + timedelta(minutes=minute), abandoned=minute < 3)
    later = NOW + timedelta(hours=2)
    assert ledger.totals(later) == WindowCounts(answered=100, abandoned=3)
    assert ledger.rate(later) == pytest.approx(0.03)


def test_buckets_older_than_thirty_days_leave_the_window() -> None:
    ledger = AbandonmentWindow()
    ledger.add(NOW, answered=100, abandoned=2)
    ledger.add(NOW + timedelta(days=10), answered=50, abandoned=0)
    assert ledger.totals(NOW + timedelta(days=29, hours=23)).answered == 150
    # The window is the current hour and the 719 before it: NOW's hour leaves 30 days on.
    assert ledger.totals(NOW + timedelta(days=30)) == WindowCounts(answered=50, abandoned=0)
    ledger.add(NOW, answered=7, abandoned=7)  # too old to count any more
    assert ledger.totals(NOW + timedelta(days=30)).abandoned == 0


def test_allowed_abandons_keep_the_rate_at_or_under_the_cap() -> None:
    counts = WindowCounts(answered=1000, abandoned=20)
    allowed = counts.allowed_abandons(0.03)
    # Each abandon is a live answer too: 10 more gives 30 / 1010, 11 more 31 / 1011.
    assert allowed == 10
    assert (20 + allowed) / (1000 + allowed) <= 0.03 < (21 + allowed) / (1001 + allowed)
    assert counts.allowed_abandons(0.03, more_answers=100) == 13
    assert WindowCounts(answered=100, abandoned=10).allowed_abandons(0.03) == 0
    ledger = AbandonmentWindow.from_counts([BucketCounts(NOW, 1000, 20)])
    assert ledger.allowed_abandons(NOW, cap=0.03) == 10


def test_a_ledger_rebuilt_from_stored_buckets_matches_the_one_that_recorded() -> None:
    ledger = AbandonmentWindow()
    rng = random.Random(7)
    for second in range(0, 40 * 86400, 997):
        ledger.record(NOW + timedelta(seconds=second), abandoned=rng.random() < 0.02)
    end = NOW + timedelta(days=40)
    stored = ledger.buckets()
    shuffled = list(stored)
    rng.shuffle(shuffled)  # rows come back from the database in any order
    rebuilt = AbandonmentWindow.from_counts(shuffled)
    assert rebuilt.totals(end) == ledger.totals(end)
    assert rebuilt.buckets() == stored
    assert len(stored) <= 30 * 24


def test_day_buckets_rebuilt_from_hourly_rows() -> None:
    rows = [BucketCounts(NOW + timedelta(hours=hour), 10, 1) for hour in range(48)]
    ledger = AbandonmentWindow.from_counts(rows, bucket=timedelta(days=1))
    assert ledger.totals(NOW + timedelta(days=2)) == WindowCounts(480, 48)
    assert len(ledger.buckets()) == 3  # the 12:00 start spans three calendar days


def test_a_late_count_for_an_older_bucket_still_counts() -> None:
    ledger = AbandonmentWindow()
    ledger.add(NOW, answered=10)
    ledger.add(NOW - timedelta(hours=5), answered=4, abandoned=1)
    assert [bucket.answered for bucket in ledger.buckets()] == [4, 10]
    assert ledger.totals(NOW) == WindowCounts(14, 1)


def test_the_outlook_shows_the_windows_as_old_buckets_leave() -> None:
    start = NOW - timedelta(days=30) + timedelta(hours=2)  # leaves the window in 2 hours
    ledger = AbandonmentWindow.from_counts(
        [BucketCounts(start, 1000, 0), BucketCounts(NOW, 100, 3)]
    )
    outlook = ledger.outlook(NOW, timedelta(days=1))
    assert outlook == (WindowCounts(1100, 3), WindowCounts(100, 3))
    assert outlook[1].rate == pytest.approx(0.03)  # safe now, at the cap once 'start' leaves
    assert ledger.outlook(NOW, timedelta(hours=1)) == (WindowCounts(1100, 3),)
    ledger.add(NOW, answered=0)
    assert ledger.outlook(NOW + timedelta(days=30), timedelta(hours=1)) == (WindowCounts(0, 0),)


def test_the_ledger_refuses_impossible_counts_and_naive_times() -> None:
    ledger = AbandonmentWindow()
    with pytest.raises(ValueError):
        ledger.add(NOW, answered=1, abandoned=2)
    with pytest.raises(ValueError):
        ledger.record(NOW.replace(tzinfo=None), abandoned=False)
    with pytest.raises(ValueError):
        AbandonmentWindow(window=timedelta(days=30), bucket=timedelta(hours=7))


# --- the pacer: progressive -------------------------------------------------------------------


def test_progressive_dials_one_call_per_free_agent_not_already_covered() -> None:
    decision = pace(
        snapshot(agents_available=10, calls_in_flight=4, calls_waiting=1),
        campaign_mode=PacingMode.PROGRESSIVE,
    )
    assert (decision.calls, decision.mode, decision.reason) == (
        5,
        PacingMode.PROGRESSIVE,
        PacingReason.CONFIGURED,
    )
    covered = pace(snapshot(agents_available=3, calls_in_flight=5), campaign_mode="progressive")  # type: ignore[arg-type]
    assert covered.calls == 0


def test_thin_data_paces_progressively_and_says_so() -> None:
    thin = AnswerStats(dials=50, live_answers=12)
    decision = pace(snapshot(stats=thin, agents_available=6, calls_in_flight=2))
    assert decision.mode is PacingMode.PROGRESSIVE
    assert decision.reason is PacingReason.THIN_DATA
    assert decision.calls == 4
    assert "50 dials" in decision.detail
    few_answers = AnswerStats(dials=5000, live_answers=10)
    assert pace(snapshot(stats=few_answers)).reason is PacingReason.THIN_DATA
    empty_window = pace(snapshot(abandonment=(WindowCounts(),)))
    assert (empty_window.mode, empty_window.reason) == (
        PacingMode.PROGRESSIVE,
        PacingReason.THIN_DATA,
    )


def test_near_the_cap_it_falls_back_to_progressive() -> None:
    near = (WindowCounts(answered=10_000, abandoned=245),)  # 2.45 % >= 80 % of 3 %
    decision = pace(snapshot(abandonment=near))
    assert (decision.mode, decision.reason, decision.calls) == (
        PacingMode.PROGRESSIVE,
        PacingReason.NEAR_CAP,
        10,
    )
    assert decision.abandon_rate == pytest.approx(0.0245)
    under = (WindowCounts(answered=10_000, abandoned=235),)
    assert pace(snapshot(abandonment=under)).mode is PacingMode.PREDICTIVE


def test_a_campaign_that_fell_back_resumes_only_well_under_the_cap() -> None:
    between = (WindowCounts(answered=10_000, abandoned=210),)  # 2.1 %: 70 % of the cap
    assert pace(snapshot(abandonment=between)).mode is PacingMode.PREDICTIVE
    stays = pace(snapshot(abandonment=between), previous_mode=PacingMode.PROGRESSIVE)
    assert (stays.mode, stays.reason) == (PacingMode.PROGRESSIVE, PacingReason.NEAR_CAP)
    lower = (WindowCounts(answered=10_000, abandoned=150),)
    resumed = pace(snapshot(abandonment=lower), previous_mode=PacingMode.PROGRESSIVE)
    assert resumed.mode is PacingMode.PREDICTIVE


def test_a_window_over_the_cap_once_old_answers_leave_counts_as_near_the_cap() -> None:
    outlook = (WindowCounts(11_000, 100), WindowCounts(1000, 28))  # 0.9 % now, 2.8 % tomorrow
    decision = pace(snapshot(abandonment=outlook))
    assert decision.reason is PacingReason.NEAR_CAP
    assert decision.abandon_rate == pytest.approx(0.028)


def test_a_lower_configured_cap_falls_back_sooner() -> None:
    at_one_percent = (WindowCounts(answered=10_000, abandoned=100),)
    assert pace(snapshot(abandonment=at_one_percent)).mode is PacingMode.PREDICTIVE
    strict = PacingPolicy(max_abandon_rate=0.01)
    assert pace(snapshot(abandonment=at_one_percent), policy=strict).mode is (
        PacingMode.PROGRESSIVE
    )


def test_the_cap_cannot_be_configured_above_three_percent() -> None:
    with pytest.raises(ValueError):
        PacingPolicy(max_abandon_rate=0.031)
    with pytest.raises(ValueError):
        PacingPolicy(target=0.9, fallback_at=0.8)


# --- the pacer: predictive --------------------------------------------------------------------


def test_predictive_over_dials_from_the_answer_rate() -> None:
    decision = pace(snapshot(agents_available=20))
    assert (decision.mode, decision.reason) == (PacingMode.PREDICTIVE, PacingReason.PREDICTED)
    # A person answers a quarter of the dials: 20 free agents want more than 20 calls,
    # but never more live answers expected than agents expected free.
    assert 20 < decision.calls <= 20 / STATS.live_rate
    assert decision.expected_live_answers <= decision.expected_free_agents
    assert decision.expected_abandons <= 0.4 * 0.03 * decision.expected_live_answers + 1e-9


def test_predictive_counts_the_calls_already_in_flight() -> None:
    alone = pace(snapshot(agents_available=20)).calls
    assert pace(snapshot(agents_available=20, calls_in_flight=30)).calls == alone - 30
    assert pace(snapshot(agents_available=20, calls_in_flight=200)).calls == 0


def test_no_call_when_no_agent_will_be_free() -> None:
    decision = pace(snapshot(agents_available=0, agents_on_call=0))
    assert decision.calls == 0
    # Agents deep in long calls: almost no chance any is free within the horizon.
    busy = AnswerStats(dials=2000, live_answers=500, average_talk_seconds=3600.0)
    assert pace(snapshot(agents_available=0, agents_on_call=10, stats=busy)).calls == 0


def test_agents_about_to_finish_wrap_up_are_dialled_for() -> None:
    none_free = snapshot(agents_available=0, wrap_up_seconds_left=(1.0, 3.0, 4.0, 60.0))
    decision = pace(none_free)
    assert decision.mode is PacingMode.PREDICTIVE
    assert decision.calls > 0
    assert decision.expected_free_agents == pytest.approx(3.0)  # the 60 s one is too far
    quick_wrap = AnswerStats(dials=2000, live_answers=500, average_wrap_seconds=5.0)
    known = snapshot(
        agents_available=0,
        agents_on_call=2,
        on_call_seconds_left=(0.5, 300.0),
        stats=quick_wrap,
    )
    # 0.5 s of talk and 5 s of wrap-up end within the 10 s to answer and 2 s of grace.
    assert pace(known).expected_free_agents == pytest.approx(1.0)


def test_the_guard_limits_the_over_dial_to_what_the_window_can_absorb() -> None:
    # 0.5 % abandoned, but only 2,000 answers: room for (60 - 10) / 0.97 = 51 more abandons.
    small = (WindowCounts(answered=2000, abandoned=10),)
    roomy = pace(snapshot(agents_available=20, abandonment=small))
    tight = (WindowCounts(answered=400, abandoned=2),)  # room for 10 abandons
    decision = pace(snapshot(agents_available=20, abandonment=tight))
    assert decision.mode is PacingMode.PREDICTIVE
    assert decision.calls <= 20 + 10 < roomy.calls


def test_the_worst_case_never_exceeds_the_cap_in_any_watched_window() -> None:
    """Whatever the figures, if every pending call were answered by a person and no other
    agent freed up, every window the pacer watched stays at or under the cap."""
    rng = random.Random(2027)
    for _ in range(2000):
        cap = rng.choice([0.03, 0.02, 0.01])
        answered = rng.randint(0, 5000)
        abandoned = rng.randint(0, math.floor(answered * cap * 0.8))
        later = rng.randint(0, answered)
        windows = (
            WindowCounts(answered, abandoned),
            WindowCounts(later, min(abandoned, math.floor(later * cap * 0.8))),
        )
        stats = AnswerStats(
            dials=rng.randint(100, 5000),
            live_answers=0,
            average_time_to_answer=rng.uniform(3, 20),
            average_talk_seconds=rng.uniform(20, 600),
            average_wrap_seconds=rng.uniform(0, 60),
        )
        stats = AnswerStats(
            dials=stats.dials,
            live_answers=max(40, round(stats.dials * rng.uniform(0.05, 0.9))),
            average_time_to_answer=stats.average_time_to_answer,
            average_talk_seconds=stats.average_talk_seconds,
            average_wrap_seconds=stats.average_wrap_seconds,
        )
        on_call = rng.randint(0, 200)
        figures = PacingSnapshot(
            agents_available=rng.randint(0, 50),
            stats=stats,
            wrap_up_seconds_left=tuple(rng.uniform(0, 60) for _ in range(rng.randint(0, 20))),
            agents_on_call=on_call,
            calls_in_flight=rng.randint(0, 40),
            abandonment=windows,
        )
        policy = PacingPolicy(max_abandon_rate=cap)
        decision = pace(figures, policy=policy, campaign_mode=rng.choice(list(PacingMode)))
        pending = figures.calls_in_flight + decision.calls
        dropped = max(0, pending - figures.agents_available)
        if decision.calls:  # the calls it starts never take a window over the cap
            for window in windows:
                assert window.abandoned + dropped <= cap * (window.answered + pending) + 1e-9


def test_decisions_are_deterministic() -> None:
    figures = snapshot(agents_available=7, wrap_up_seconds_left=(2.0, 8.0), agents_on_call=30)
    assert pace(figures) == pace(figures)


# --- the model --------------------------------------------------------------------------------


def test_expected_excess_is_close_to_the_exact_binomial_figure() -> None:
    pending, answer_rate, free = 60, 0.25, 15
    exact = sum(
        math.comb(pending, k) * answer_rate**k * (1 - answer_rate) ** (pending - k) * (k - free)
        for k in range(free + 1, pending + 1)
    )
    demand, variance = pending * answer_rate, pending * answer_rate * (1 - answer_rate)
    assert expected_excess(demand, variance, free, 0.0) == pytest.approx(exact, abs=0.15)
    assert expected_excess(0.0, 0.0, 5, 0.0) == 0.0


def test_expected_free_agents_from_unknown_talk_times_is_memoryless() -> None:
    figures = snapshot(agents_available=2, agents_on_call=10)
    mean, variance = expected_free_agents(figures, horizon=40.0, free=2)
    chance = 1 - math.exp(-(40.0 - 10.0) / 120.0)
    assert mean == pytest.approx(2 + 10 * chance)
    assert variance == pytest.approx(10 * chance * (1 - chance))


def test_calls_that_have_rung_long_count_as_unlikely_live_answers() -> None:
    # People answer within 2-12 s, busy lines fail at once, unanswered calls ring 25 s.
    live = tuple(2.0 + 0.5 * i for i in range(20))
    outcomes = tuple(sorted(live[::2] + (0.5, 0.5, 0.5, 15.0) + (25.0,) * 6))
    timed = AnswerStats(
        dials=2000,
        live_answers=500,
        average_time_to_answer=6.0,
        live_answer_seconds=live,
        outcome_seconds=outcomes,
    )
    fresh = snapshot(stats=timed, calls_in_flight=20)
    old = snapshot(stats=timed, calls_in_flight=20, in_flight_seconds=(20.0,) * 20)
    assert expected_live_in_flight(fresh, 0.25, PacingPolicy())[0] == pytest.approx(5.0)
    assert expected_live_in_flight(old, 0.25, PacingPolicy())[0] == 0.0
    young = snapshot(stats=timed, calls_in_flight=20, in_flight_seconds=(1.0,) * 20)
    chance = expected_live_in_flight(young, 0.25, PacingPolicy())[0] / 20
    assert 0.25 < chance <= 1.0  # unresolved after 1 s: busy lines are out, live more likely
    # The long-ringing calls will not bring people: the pacer dials for the free agents.
    assert pace(old).calls > pace(fresh).calls
