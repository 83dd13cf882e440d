"""Frequency caps: attempts per contact per local day and week, in every candidate zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from plugins.campaigns.compliance.frequency import (
    ALLOWED,
    DAY,
    WEEK,
    FrequencyCap,
    FrequencyDecision,
)

NY = "America/New_York"
PRAGUE = "Europe/Prague"


def local(key: str, year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(key))


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_the_daily_cap_counts_attempts_on_the_persons_local_day() -> None:
    cap = FrequencyCap(per_day=2)
    attempts = [local(NY, 2026, 7, 1, 9), local(NY, 2026, 7, 1, 15)]
    decision = cap.check(attempts, local(NY, 2026, 7, 1, 18), [NY])
    assert (decision.allowed, decision.rule) == (False, DAY)
    assert decision.counts == {NY: {"day": 2, "week": 2}}
    assert decision.next_allowed_at == local(NY, 2026, 7, 2, 0)
    assert cap.check(attempts, local(NY, 2026, 7, 2, 8), [NY]).allowed


def test_the_previous_local_evening_is_another_day_even_on_the_same_utc_date() -> None:
    # 23:30 EDT on 30 June is 03:30 UTC on 1 July.
    attempts = [local(NY, 2026, 6, 30, 23, 30), local(NY, 2026, 7, 1, 9)]
    assert attempts[0].astimezone(UTC).date() == local(NY, 2026, 7, 1, 12).astimezone(UTC).date()
    decision = FrequencyCap(per_day=2).check(attempts, local(NY, 2026, 7, 1, 12), [NY])
    assert decision.rule == ALLOWED
    assert decision.counts[NY]["day"] == 1
    assert decision.next_allowed_at == decision.at


def test_the_weekly_cap_runs_monday_to_sunday_and_blocks_until_monday() -> None:
    cap = FrequencyCap(per_day=2, per_week=3)
    # Monday 29 June, Wednesday 1 July, Friday 3 July 2026.
    attempts = [local(NY, 2026, 6, 29, 10), local(NY, 2026, 7, 1, 10), local(NY, 2026, 7, 3, 10)]
    sunday = cap.check(attempts, local(NY, 2026, 7, 5, 10), [NY])
    assert (sunday.rule, sunday.counts[NY]["week"]) == (WEEK, 3)
    assert sunday.next_allowed_at == local(NY, 2026, 7, 6, 0)
    monday = cap.check(attempts, local(NY, 2026, 7, 6, 10), [NY])
    assert monday.allowed
    assert monday.counts[NY] == {"day": 0, "week": 0}


def test_the_weekly_cap_wins_when_both_are_reached() -> None:
    cap = FrequencyCap(per_day=1, per_week=2)
    attempts = [local(NY, 2026, 7, 1, 10), local(NY, 2026, 7, 2, 10)]
    decision = cap.check(attempts, local(NY, 2026, 7, 2, 15), [NY])
    assert decision.rule == WEEK
    assert decision.next_allowed_at == local(NY, 2026, 7, 6, 0)


def test_a_cap_reached_in_any_candidate_zone_blocks() -> None:
    # 02:00 UTC on 2 July is 22:00 on 1 July in New York but 04:00 on 2 July in Prague.
    attempts = [utc(2026, 7, 2, 2, 0)]
    at = utc(2026, 7, 2, 14, 0)
    cap = FrequencyCap(per_day=1)
    assert cap.check(attempts, at, [NY]).allowed
    both = cap.check(attempts, at, [NY, PRAGUE])
    assert both.rule == DAY
    assert both.counts == {NY: {"day": 0, "week": 1}, PRAGUE: {"day": 1, "week": 1}}
    assert both.next_allowed_at == local(PRAGUE, 2026, 7, 3, 0)


def test_a_week_boundary_in_one_zone_only_still_counts_in_the_other() -> None:
    # 23:30 EDT on Sunday 5 July is 05:30 CEST on Monday 6 July.
    attempts = [local(NY, 2026, 7, 5, 23, 30)]
    at = local(NY, 2026, 7, 6, 10)
    cap = FrequencyCap(per_week=1)
    assert cap.check(attempts, at, [NY]).allowed
    assert cap.check(attempts, at, [PRAGUE]).rule == WEEK


def test_the_next_local_midnight_respects_a_dst_gap_at_midnight() -> None:
    # Santiago, 6 September 2026: 00:00 (-04) jumped to 01:00 (-03); the day starts at 04:00 UTC.
    santiago = "America/Santiago"
    decision = FrequencyCap(per_day=1).check(
        [local(santiago, 2026, 9, 5, 10)], local(santiago, 2026, 9, 5, 15), [santiago]
    )
    assert decision.next_allowed_at == utc(2026, 9, 6, 4, 0)


def test_attempts_after_the_instant_decided_are_not_counted() -> None:
    later = [local(NY, 2026, 7, 1, 16)]
    assert FrequencyCap(per_day=1).check(later, local(NY, 2026, 7, 1, 10), [NY]).allowed


def test_no_caps_allow_everything() -> None:
    many = [local(NY, 2026, 7, 1, h) for h in range(8, 20)]
    assert FrequencyCap().check(many, local(NY, 2026, 7, 1, 20), [NY]).allowed


@pytest.mark.parametrize("caps", [{"per_day": 0}, {"per_week": -1}, {"per_month": 3}])
def test_invalid_caps_are_refused(caps: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        FrequencyCap.model_validate(caps)


def test_naive_instants_and_no_zone_are_refused() -> None:
    cap = FrequencyCap(per_day=1)
    with pytest.raises(ValueError, match="timezone-aware"):
        cap.check([datetime(2026, 7, 1, 10)], local(NY, 2026, 7, 1, 12), [NY])
    with pytest.raises(ValueError, match="zone"):
        cap.check([], local(NY, 2026, 7, 1, 12), [])


def test_a_decision_round_trips_through_json() -> None:
    decision = FrequencyCap(per_day=1, per_week=5).check(
        [local(NY, 2026, 7, 1, 9)], local(NY, 2026, 7, 1, 12), [NY]
    )
    record = decision.as_record()
    assert record["rule"] == DAY
    assert record["next_allowed_at"] == "2026-07-02T04:00:00Z"
    assert FrequencyDecision.model_validate(record) == decision
