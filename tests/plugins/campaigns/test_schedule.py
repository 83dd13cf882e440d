"""The campaign's own dialing hours (pure): open, closed days and hours, dates, DST, and when
it opens next."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from plugins.campaigns.schedule import decide_schedule
from plugins.campaigns.schemas import CampaignSchedule

NY = "America/New_York"


def schedule(**fields) -> CampaignSchedule:
    return CampaignSchedule.model_validate({"time_zone": NY, **fields})


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("instant", "rule", "next_open"),
    [
        # Wednesday 2027-03-03, EST (UTC-5): hours 09:00-20:00
        ("2027-03-03T13:59:59", "schedule.closed_hours", "2027-03-03T14:00:00"),
        ("2027-03-03T14:00:00", "schedule.open", "2027-03-03T14:00:00"),
        ("2027-03-04T00:59:59", "schedule.open", "2027-03-04T00:59:59"),
        ("2027-03-04T01:00:00", "schedule.closed_hours", "2027-03-04T14:00:00"),
        # Friday evening: next Monday 09:00
        ("2027-03-06T02:00:00", "schedule.closed_hours", "2027-03-08T14:00:00"),
        # Saturday: closed day, next Monday 09:00
        ("2027-03-06T16:00:00", "schedule.closed_day", "2027-03-08T14:00:00"),
        # Monday 2027-03-15, after the spring change (EDT, UTC-4)
        ("2027-03-15T12:59:59", "schedule.closed_hours", "2027-03-15T13:00:00"),
    ],
)
def test_hours_and_days_in_the_campaigns_zone(instant, rule, next_open):
    decision = decide_schedule(schedule(), utc(instant))
    assert decision.rule == rule
    assert decision.allowed is (rule == "schedule.open")
    assert decision.next_open_at == utc(next_open)


def test_dates_bound_the_campaign():
    bounded = schedule(start_date="2027-03-10", end_date="2027-03-12")
    early = decide_schedule(bounded, utc("2027-03-03T15:00:00"))
    assert early.rule == "schedule.not_started"
    assert early.next_open_at == utc("2027-03-10T14:00:00")
    over = decide_schedule(bounded, utc("2027-03-13T15:00:00"))
    assert (over.rule, over.next_open_at) == ("schedule.ended", None)
    last_evening = decide_schedule(bounded, utc("2027-03-13T01:30:00"))  # 20:30 on the 12th
    assert (last_evening.rule, last_evening.next_open_at) == ("schedule.closed_hours", None)


def test_split_hours_open_at_the_next_span():
    split = schedule(
        days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        hours=[{"start": "17:00", "end": "19:00"}, {"start": "10:00", "end": "12:00"}],
    )
    lunch = decide_schedule(split, utc("2027-03-03T18:00:00"))  # 13:00 local
    assert lunch.rule == "schedule.closed_hours"
    assert lunch.next_open_at == utc("2027-03-03T22:00:00")


def test_a_span_starting_in_the_skipped_hour_opens_when_the_clock_jumps():
    night = schedule(
        days=["sun"], hours=[{"start": "02:30", "end": "04:00"}]
    )  # 2027-03-14 02:00 EST -> 03:00 EDT
    before = decide_schedule(night, utc("2027-03-14T06:00:00"))  # 01:00 EST
    assert before.next_open_at == utc("2027-03-14T07:00:00")  # 03:00 EDT, the jump
    assert decide_schedule(night, utc("2027-03-14T07:00:00")).allowed


def test_the_decision_is_a_record():
    record = decide_schedule(schedule(), utc("2027-03-03T15:00:00")).as_record()
    assert record["rule"] == "schedule.open"
    assert record["local_time"] == "2027-03-03T10:00:00-05:00"
