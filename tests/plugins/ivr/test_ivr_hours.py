"""Business hours: windows, overnight windows, holidays, DST and validation."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from plugins.ivr.hours import BusinessHours, Holiday, HoursVerdict, TimeWindow, check

PRAGUE = ZoneInfo("Europe/Prague")
NEW_YORK = ZoneInfo("America/New_York")
UTC = dt.UTC
EVERY_DAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def hours(weekly, holidays=(), timezone="Europe/Prague"):
    return BusinessHours.model_validate(
        {"timezone": timezone, "weekly": weekly, "holidays": list(holidays)}
    )


def local(text, zone=PRAGUE):
    return dt.datetime.fromisoformat(text).replace(tzinfo=zone)


def utc(text):
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def state(business_hours, moment):
    return check(business_hours, moment).state


OFFICE = hours({"mon": [{"open": "09:00", "close": "17:00"}]})  # 2026-03-30 is a Monday


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-03-30 08:59:59", "closed"),
        ("2026-03-30 09:00:00", "open"),
        ("2026-03-30 12:00:00", "open"),
        ("2026-03-30 16:59:59.999999", "open"),
        ("2026-03-30 17:00:00", "closed"),
        ("2026-03-31 12:00:00", "closed"),  # Tuesday is not listed
    ],
)
def test_a_window_includes_its_opening_and_excludes_its_closing(moment, expected):
    assert state(OFFICE, local(moment)) == expected


def test_several_windows_a_day():
    split = hours(
        {"mon": [{"open": "08:00", "close": "12:00"}, {"open": "13:00", "close": "17:00"}]}
    )
    assert state(split, local("2026-03-30 11:59")) == "open"
    assert state(split, local("2026-03-30 12:30")) == "closed"
    assert state(split, local("2026-03-30 13:00")) == "open"


def test_closing_at_midnight_and_all_day():
    evening = hours({"mon": [{"open": "18:00", "close": "24:00"}]})
    assert state(evening, local("2026-03-30 23:59:59")) == "open"
    assert state(evening, local("2026-03-31 00:00")) == "closed"
    all_day = hours({"mon": [{"open": "00:00", "close": "24:00"}]})
    assert state(all_day, local("2026-03-30 00:00")) == "open"
    assert state(all_day, local("2026-03-30 23:59:59")) == "open"
    assert state(all_day, local("2026-03-31 00:00")) == "closed"


NIGHTS = hours(
    {
        "fri": [{"open": "22:00", "close": "06:00"}],
        "sun": [{"open": "20:00", "close": "02:30"}],
    }
)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-07-03 21:59", "closed"),  # Friday
        ("2026-07-03 22:00", "open"),
        ("2026-07-03 23:59:59", "open"),
        ("2026-07-04 00:00", "open"),  # Saturday, the night goes on
        ("2026-07-04 05:59:59", "open"),
        ("2026-07-04 06:00", "closed"),
        ("2026-07-04 23:00", "closed"),  # Saturday evening has no window of its own
        ("2026-07-05 21:00", "open"),  # Sunday
        ("2026-07-06 02:29", "open"),  # into Monday: the week wraps
        ("2026-07-06 02:30", "closed"),
        ("2026-07-03 03:00", "closed"),  # Thursday night has no window
    ],
)
def test_overnight_windows_run_into_the_next_day(moment, expected):
    assert state(NIGHTS, local(moment)) == expected


def test_overnight_window_closing_at_midnight_is_the_evening_only():
    evening = hours({"fri": [{"open": "20:00", "close": "00:00"}]})
    assert state(evening, local("2026-07-03 23:00")) == "open"
    assert state(evening, local("2026-07-04 00:00")) == "closed"


# --- holidays --------------------------------------------------------------------------

EVERY_DAY_8_TO_20 = {day: [{"open": "08:00", "close": "20:00"}] for day in EVERY_DAY}


def test_a_holiday_closes_its_whole_day():
    christmas = hours(EVERY_DAY_8_TO_20, [{"date": "2026-12-25", "name": "Christmas"}])
    verdict = check(christmas, local("2026-12-25 12:00"))
    assert verdict.state == "holiday"
    assert verdict.holiday == "Christmas"
    assert check(christmas, local("2026-12-24 12:00")) == HoursVerdict(
        state="open", holiday=None, local_time=local("2026-12-24 12:00")
    )
    assert state(christmas, local("2026-12-25 03:00")) == "holiday"  # also outside windows
    assert state(christmas, local("2026-12-26 12:00")) == "open"
    assert state(christmas, local("2027-12-25 12:00")) == "open"  # not yearly


def test_an_unnamed_holiday_has_an_empty_name():
    verdict = check(hours(EVERY_DAY_8_TO_20, [{"date": "2026-12-25"}]), local("2026-12-25 12:00"))
    assert (verdict.state, verdict.holiday) == ("holiday", "")


def test_a_holiday_cuts_the_overnight_window_from_the_evening_before():
    # Thursday 2026-12-24 22:00 to Friday 06:00, and Friday is a holiday.
    night = hours({"thu": [{"open": "22:00", "close": "06:00"}]}, [{"date": "2026-12-25"}])
    assert state(night, local("2026-12-24 23:59")) == "open"
    assert state(night, local("2026-12-25 00:00")) == "holiday"
    assert state(night, local("2026-12-25 05:00")) == "holiday"


def test_the_night_after_a_holiday_belongs_to_the_next_day():
    # Friday 2026-12-25 is a holiday; its overnight window's after-midnight part is open.
    night = hours({"fri": [{"open": "22:00", "close": "06:00"}]}, [{"date": "2026-12-25"}])
    assert state(night, local("2026-12-25 23:00")) == "holiday"
    assert state(night, local("2026-12-26 02:00")) == "open"
    assert state(night, local("2026-12-26 06:00")) == "closed"


def test_a_holiday_range_includes_both_ends():
    closed = hours(EVERY_DAY_8_TO_20, [{"date": "2026-08-03", "until": "2026-08-07"}])
    assert state(closed, local("2026-08-02 12:00")) == "open"
    assert state(closed, local("2026-08-03 12:00")) == "holiday"
    assert state(closed, local("2026-08-07 12:00")) == "holiday"
    assert state(closed, local("2026-08-08 12:00")) == "open"


def test_yearly_holidays_repeat_on_the_same_day():
    may_day = hours(EVERY_DAY_8_TO_20, [{"date": "2026-05-01", "yearly": True, "name": "May"}])
    assert check(may_day, local("2031-05-01 12:00")).holiday == "May"
    assert state(may_day, local("2020-05-01 12:00")) == "holiday"  # earlier years too
    assert state(may_day, local("2031-05-02 12:00")) == "open"


def test_a_yearly_range_can_cross_new_year():
    holiday = {"date": "2026-12-24", "until": "2027-01-02", "yearly": True}
    winter = hours(EVERY_DAY_8_TO_20, [holiday])
    for day in ("2030-12-24", "2030-12-31", "2031-01-01", "2031-01-02"):
        assert state(winter, local(f"{day} 12:00")) == "holiday", day
    assert state(winter, local("2030-12-23 12:00")) == "open"
    assert state(winter, local("2031-01-03 12:00")) == "open"


def test_a_yearly_february_29_happens_in_leap_years_only():
    leap = hours(EVERY_DAY_8_TO_20, [{"date": "2024-02-29", "yearly": True}])
    assert state(leap, local("2028-02-29 12:00")) == "holiday"
    assert state(leap, local("2027-02-28 12:00")) == "open"
    assert state(leap, local("2027-03-01 12:00")) == "open"


def test_the_first_matching_holiday_names_the_day():
    both = hours(
        EVERY_DAY_8_TO_20,
        [{"date": "2026-12-25", "name": "Christmas"}, {"date": "2026-12-25", "name": "Other"}],
    )
    assert check(both, local("2026-12-25 12:00")).holiday == "Christmas"


def test_holidays_follow_the_local_date_not_utc():
    christmas = hours(EVERY_DAY_8_TO_20, [{"date": "2026-12-25"}], timezone="America/New_York")
    assert state(christmas, utc("2026-12-25 04:30")) == "closed"  # Dec 24 23:30 in New York
    assert state(christmas, utc("2026-12-25 05:30")) == "holiday"  # Dec 25 00:30


# --- time zones and daylight saving ----------------------------------------------------

DAYTIME = {day: [{"open": "09:00", "close": "17:00"}] for day in EVERY_DAY}


def test_windows_follow_the_local_clock_across_prague_spring_forward():
    # 2026-03-29: 02:00 CET becomes 03:00 CEST; the same UTC time opens a later local hour.
    office = hours(DAYTIME)
    assert state(office, utc("2026-03-27 07:30")) == "closed"  # 08:30 CET
    assert state(office, utc("2026-03-30 07:30")) == "open"  # 09:30 CEST
    assert state(office, utc("2026-03-30 15:00")) == "closed"  # 17:00 CEST


def test_overnight_window_on_the_short_night_in_prague():
    # Saturday 22:00 CET to Sunday 06:00 CEST is only seven real hours.
    night = hours({"sat": [{"open": "22:00", "close": "06:00"}]})
    assert state(night, utc("2026-03-28 21:00")) == "open"  # 22:00 CET
    assert state(night, utc("2026-03-29 00:59")) == "open"  # 01:59 CET
    assert state(night, utc("2026-03-29 01:00")) == "open"  # 03:00 CEST
    assert state(night, utc("2026-03-29 03:59")) == "open"  # 05:59 CEST
    assert state(night, utc("2026-03-29 04:00")) == "closed"  # 06:00 CEST


def test_a_window_inside_the_skipped_hour_never_opens():
    skipped = hours({"sun": [{"open": "02:00", "close": "03:00"}]})
    assert state(skipped, utc("2026-03-29 00:59:59")) == "closed"  # 01:59:59 CET
    assert state(skipped, utc("2026-03-29 01:00")) == "closed"  # 03:00 CEST


def test_a_window_inside_the_repeated_hour_is_open_twice_in_prague_fall_back():
    # 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:00-03:00 happens twice.
    repeated = hours({"sun": [{"open": "02:00", "close": "03:00"}]})
    assert state(repeated, utc("2026-10-24 23:59")) == "closed"  # 01:59 CEST
    first = check(repeated, utc("2026-10-25 00:30"))  # 02:30 CEST
    second = check(repeated, utc("2026-10-25 01:30"))  # 02:30 CET
    assert (first.state, second.state) == ("open", "open")
    assert (first.local_time.fold, second.local_time.fold) == (0, 1)
    assert state(repeated, utc("2026-10-25 02:00")) == "closed"  # 03:00 CET


def test_new_york_spring_forward_and_fall_back():
    office = hours(DAYTIME, timezone="America/New_York")
    # 2026-03-08: 02:00 EST becomes 03:00 EDT.
    assert state(office, utc("2026-03-07 13:30")) == "closed"  # 08:30 EST
    assert state(office, utc("2026-03-08 13:30")) == "open"  # 09:30 EDT
    assert state(office, utc("2026-03-08 21:00")) == "closed"  # 17:00 EDT
    # 2026-11-01: 02:00 EDT becomes 01:00 EST.
    assert state(office, utc("2026-10-31 21:30")) == "closed"  # 17:30 EDT
    assert state(office, utc("2026-11-01 21:30")) == "open"  # 16:30 EST
    assert state(office, utc("2026-11-01 22:00")) == "closed"  # 17:00 EST
    night = hours({"sat": [{"open": "22:00", "close": "01:30"}]}, timezone="America/New_York")
    assert state(night, utc("2026-11-01 05:29")) == "open"  # 01:29 EDT
    assert state(night, utc("2026-11-01 05:30")) == "closed"  # 01:30 EDT
    assert state(night, utc("2026-11-01 06:29")) == "open"  # 01:29 EST, the hour again


def test_local_time_is_in_the_hours_time_zone():
    verdict = check(OFFICE, utc("2026-03-30 08:00"))
    assert verdict.local_time == utc("2026-03-30 08:00")
    assert verdict.local_time.tzinfo == PRAGUE
    assert verdict.local_time.hour == 10
    assert verdict.state == "open"


def test_any_aware_datetime_is_accepted():
    eastern = dt.timezone(dt.timedelta(hours=-5))
    assert state(OFFICE, dt.datetime(2026, 3, 30, 3, 30, tzinfo=eastern)) == "open"  # 10:30


def test_a_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        check(OFFICE, dt.datetime(2026, 3, 30, 12, 0))


# --- validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({"open": "9:00", "close": "17:00"}, "opening time '9:00' must be HH:MM"),
        ({"open": "24:00", "close": "02:00"}, "opening time '24:00'"),
        ({"open": "09:60", "close": "17:00"}, "opening time '09:60'"),
        ({"open": "09:00", "close": "25:00"}, "closing time '25:00' must be HH:MM"),
        ({"open": "09:00", "close": "24:01"}, "closing time '24:01'"),
        ({"open": "09:00", "close": "5pm"}, "closing time '5pm'"),
        ({"open": "09:00", "close": "09:00"}, "opens and closes at the same time"),
        ({"open": "00:00", "close": "00:00"}, "opens and closes at the same time"),
        ({"open": "09:00", "close": "17:00", "note": "x"}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_windows(window, message):
    with pytest.raises(ValidationError, match=message):
        TimeWindow.model_validate(window)


def test_window_properties():
    window = TimeWindow(open="22:00", close="06:00")
    assert (window.opens_at, window.closes_at, window.overnight) == (1320, 360, True)
    assert TimeWindow(open="00:00", close="24:00").closes_at == 1440


@pytest.mark.parametrize(
    ("holiday", "message"),
    [
        ({"date": "2026-12-26", "until": "2026-12-25"}, "ends \\(2026-12-25\\) before it starts"),
        ({"date": "2026-01-01", "until": "2027-01-01", "yearly": True}, "shorter than a year"),
        ({"date": "2026-02-30"}, "date"),
        ({"date": "2026-12-25", "recurring": True}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_holidays(holiday, message):
    with pytest.raises(ValidationError, match=message):
        Holiday.model_validate(holiday)


def test_a_long_one_off_holiday_range_is_fine():
    assert Holiday.model_validate({"date": "2026-01-01", "until": "2027-06-01"}).until


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"timezone": "Mars/Olympus", "weekly": {}}, "unknown time zone 'Mars/Olympus'"),
        ({"timezone": "", "weekly": {}}, "unknown time zone ''"),
        ({"timezone": "../../etc/passwd", "weekly": {}}, "unknown time zone"),
        ({"timezone": "UTC", "weekly": {"monday": []}}, "weekly.monday"),
        ({"timezone": "UTC", "weekly": {}, "extra": 1}, "Extra inputs are not permitted"),
        ({"weekly": {}}, "timezone"),
    ],
)
def test_invalid_business_hours(data, message):
    with pytest.raises(ValidationError, match=message):
        BusinessHours.model_validate(data)


def test_business_hours_round_trip_through_json():
    original = hours(NIGHTS.model_dump()["weekly"], [{"date": "2026-12-25", "yearly": True}])
    again = BusinessHours.model_validate_json(original.model_dump_json())
    assert again == original
    assert again.weekly["fri"][0] == TimeWindow(open="22:00", close="06:00")


def test_no_windows_means_always_closed():
    closed = hours({}, timezone="UTC")
    assert state(closed, utc("2026-03-30 12:00")) == "closed"
