"""The calling window: legal hours in the called person's zone, DST, ambiguous numbers,
tenant tightening, holidays and the next instant a retry may be placed."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from plugins.campaigns.compliance.localtime import instants_at
from plugins.campaigns.compliance.window import (
    ALLOWED,
    CLOSED_DAY,
    HOLIDAY,
    INVALID_NUMBER,
    NO_ALLOWED_TIME,
    RULES,
    TOO_EARLY,
    TOO_LATE,
    UNKNOWN_ZONE,
    WindowDecision,
    decide,
)
from plugins.campaigns.compliance.window_rules import (
    Holiday,
    LocalWindow,
    Region,
    RegionWindows,
    WindowRules,
)

NEW_YORK = "+12125551234"  # America/New_York only
PRAGUE = "+420601123456"  # Europe/Prague only
IDAHO = "+12085550100"  # area code 208: America/Boise and America/Los_Angeles
FLORIDA = "+13055550100"  # area code 305: Florida
LEGAL = WindowRules()


def _naive(args: tuple[int, ...]) -> datetime:
    year, month, day, hour, minute, second = (*args, 0, 0, 0)[:6]
    return datetime(year, month, day, hour, minute, second)


def local(key: str, *args: int, fold: int = 0) -> datetime:
    """``datetime(*args)`` on the wall clock of zone ``key``."""
    return _naive(args).replace(tzinfo=ZoneInfo(key), fold=fold)


def utc(*args: int) -> datetime:
    return _naive(args).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("clock", "rule"),
    [
        (time(7, 59, 59), TOO_EARLY),
        (time(8, 0, 0), ALLOWED),
        (time(20, 59, 59), ALLOWED),
        (time(21, 0, 0), TOO_LATE),
        (time(0, 0, 0), TOO_EARLY),
        (time(23, 59, 59), TOO_LATE),
    ],
)
@pytest.mark.parametrize(
    ("number", "key"), [(NEW_YORK, "America/New_York"), (PRAGUE, "Europe/Prague")]
)
def test_the_legal_window_edges_in_local_time(
    clock: time, rule: str, number: str, key: str
) -> None:
    at = datetime.combine(date(2026, 6, 10), clock, tzinfo=ZoneInfo(key))
    decision = decide(number, None, at, LEGAL)
    assert (decision.allowed, decision.rule) == (rule == ALLOWED, rule)
    assert [z.zone for z in decision.zones] == [key]
    assert decision.zones[0].local_time == at
    assert decision.zones[0].local_time.utcoffset() == at.utcoffset()
    assert decision.zone_source == "number"


def test_an_allowed_decision_is_its_own_next_allowed_instant() -> None:
    at = utc(2026, 6, 10, 14, 0)
    decision = decide(NEW_YORK, None, at, LEGAL)
    assert decision.allowed
    assert decision.next_allowed_at == at


def test_too_early_and_too_late_give_the_next_opening() -> None:
    early = decide(NEW_YORK, None, local("America/New_York", 2026, 6, 10, 6, 15), LEGAL)
    assert early.next_allowed_at == local("America/New_York", 2026, 6, 10, 8, 0)
    late = decide(NEW_YORK, None, local("America/New_York", 2026, 6, 10, 21, 0), LEGAL)
    assert late.next_allowed_at == local("America/New_York", 2026, 6, 11, 8, 0)


class TestDaylightSaving:
    def test_new_york_spring_forward_opens_at_eight_daylight_time(self) -> None:
        # 2026-03-08: 02:00 EST -> 03:00 EDT; 08:00 is 12:00 UTC, not 13:00 as in winter.
        assert decide(NEW_YORK, None, utc(2026, 3, 8, 11, 59, 59), LEGAL).rule == TOO_EARLY
        assert decide(NEW_YORK, None, utc(2026, 3, 8, 12, 0), LEGAL).allowed
        before_the_change = decide(NEW_YORK, None, utc(2026, 3, 8, 6, 30), LEGAL)  # 01:30 EST
        assert before_the_change.next_allowed_at == utc(2026, 3, 8, 12, 0)
        the_night_before = decide(NEW_YORK, None, utc(2026, 3, 8, 2, 0), LEGAL)  # 21:00 EST
        assert the_night_before.rule == TOO_LATE
        assert the_night_before.next_allowed_at == utc(2026, 3, 8, 12, 0)

    def test_new_york_fall_back_closes_at_nine_standard_time(self) -> None:
        # 2026-11-01: 02:00 EDT -> 01:00 EST (01:00-02:00 twice); the day has 25 hours.
        assert decide(NEW_YORK, None, utc(2026, 11, 2, 1, 59, 59), LEGAL).allowed
        closed = decide(NEW_YORK, None, utc(2026, 11, 2, 2, 0), LEGAL)
        assert closed.rule == TOO_LATE
        assert closed.zones[0].local_time.isoformat() == "2026-11-01T21:00:00-05:00"
        assert closed.next_allowed_at == utc(2026, 11, 2, 13, 0)
        for fold in (0, 1):  # 01:30 in the repeated hour, either time round
            repeated = local("America/New_York", 2026, 11, 1, 1, 30, fold=fold)
            decision = decide(NEW_YORK, None, repeated, LEGAL)
            assert decision.rule == TOO_EARLY
            assert decision.next_allowed_at == utc(2026, 11, 1, 13, 0)  # 08:00 EST

    def test_prague_spring_forward(self) -> None:
        # 2026-03-29: 02:00 CET -> 03:00 CEST.
        assert decide(PRAGUE, None, utc(2026, 3, 29, 5, 59, 59), LEGAL).rule == TOO_EARLY
        assert decide(PRAGUE, None, utc(2026, 3, 29, 6, 0), LEGAL).allowed
        night = decide(PRAGUE, None, utc(2026, 3, 28, 20, 0), LEGAL)  # 21:00 CET
        assert night.rule == TOO_LATE
        assert night.next_allowed_at == utc(2026, 3, 29, 6, 0)

    def test_prague_fall_back(self) -> None:
        # 2026-10-25: 03:00 CEST -> 02:00 CET.
        assert decide(PRAGUE, None, utc(2026, 10, 25, 19, 59, 59), LEGAL).allowed
        assert decide(PRAGUE, None, utc(2026, 10, 25, 20, 0), LEGAL).rule == TOO_LATE
        evening = decide(PRAGUE, None, utc(2026, 10, 24, 19, 0), LEGAL)  # 21:00 CEST
        assert evening.next_allowed_at == utc(2026, 10, 25, 7, 0)  # 08:00 CET

    def test_a_window_opening_inside_a_gap_opens_at_the_transition(self) -> None:
        # Sudan, 2000-01-15: 12:00 (+02) jumped to 13:00 (+03); 12:30 never happened.
        rules = WindowRules(
            regions=[
                RegionWindows(region=Region(country="SD"), window=LocalWindow(start=time(12, 30)))
            ]
        )
        morning = decide("+249912345678", "Africa/Khartoum", utc(2000, 1, 15, 8, 0), rules)
        assert morning.rule == TOO_EARLY
        assert morning.next_allowed_at == utc(2000, 1, 15, 10, 0)  # 13:00 +03
        assert decide("+249912345678", "Africa/Khartoum", utc(2000, 1, 15, 10, 0), rules).allowed
        assert not decide(
            "+249912345678", "Africa/Khartoum", utc(2000, 1, 15, 9, 59, 59), rules
        ).allowed

    def test_a_clock_turned_back_past_nine_does_not_reopen_the_window(self) -> None:
        # Vostok, 1994-01-31: at midnight (+07) the clock went back to 17:00 (+00), so
        # 17:00-24:00 came twice; after 21:00 has been reached once, the day is over.
        vostok = ZoneInfo("Antarctica/Vostok")
        if utc(1994, 1, 31, 17, 30).astimezone(vostok).utcoffset() != timedelta(0):
            pytest.skip("this system's tz database lacks Vostok's 1994 change")
        number, key = "+74951234567", "Antarctica/Vostok"
        assert decide(number, key, utc(1994, 1, 31, 13, 59, 59), LEGAL).allowed  # 20:59:59
        second_time_round = decide(number, key, utc(1994, 1, 31, 17, 30), LEGAL)
        assert second_time_round.zones[0].local_time.isoformat() == "1994-01-31T17:30:00+00:00"
        assert second_time_round.rule == TOO_LATE
        assert second_time_round.next_allowed_at == utc(1994, 2, 1, 8, 0)

    def test_local_times_resolve_to_every_instant_they_name(self) -> None:
        tz = ZoneInfo("America/New_York")
        assert instants_at(date(2026, 3, 8), time(2, 30), tz) == [utc(2026, 3, 8, 7, 0)]
        assert instants_at(date(2026, 11, 1), time(1, 30), tz) == [
            utc(2026, 11, 1, 5, 30),
            utc(2026, 11, 1, 6, 30),
        ]
        assert instants_at(date(2026, 6, 1), time(8, 0), tz) == [utc(2026, 6, 1, 12, 0)]


class TestCandidateZones:
    def test_an_area_code_spanning_two_zones_allows_only_hours_valid_in_both(self) -> None:
        # 2026-07-01 14:30 UTC: 08:30 in Boise (MDT), 07:30 in Los Angeles (PDT).
        decision = decide(IDAHO, None, utc(2026, 7, 1, 14, 30), LEGAL)
        assert [(z.zone, z.rule) for z in decision.zones] == [
            ("America/Boise", ALLOWED),
            ("America/Los_Angeles", TOO_EARLY),
        ]
        assert decision.rule == TOO_EARLY
        assert decision.next_allowed_at == utc(2026, 7, 1, 15, 0)  # 08:00 in Los Angeles
        # 03:30 UTC: 21:30 in Boise, 20:30 in Los Angeles.
        late = decide(IDAHO, None, utc(2026, 7, 2, 3, 30), LEGAL)
        assert late.rule == TOO_LATE
        assert late.next_allowed_at == utc(2026, 7, 2, 15, 0)
        assert decide(IDAHO, None, utc(2026, 7, 2, 2, 59, 59), LEGAL).allowed  # 20:59:59 MDT
        assert late.subdivisions == ["US-ID"]

    @pytest.mark.parametrize(
        ("number", "zones"),
        [
            ("+16055550100", {"America/Denver", "America/North_Dakota/Center"}),
            ("+79123456789", {"Asia/Yekaterinburg", "Europe/Moscow", "Asia/Vladivostok"}),
            ("+61412345678", {"Australia/Perth", "Australia/Sydney", "Australia/Lord_Howe"}),
        ],
    )
    def test_numbers_whose_region_spans_zones(self, number: str, zones: set[str]) -> None:
        decision = decide(number, None, utc(2026, 7, 1, 12, 0), LEGAL)
        assert zones <= {z.zone for z in decision.zones}
        assert len(decision.zones) >= 2
        assert decision.next_allowed_at is not None
        retry = decide(number, None, decision.next_allowed_at, LEGAL)
        assert retry.allowed
        assert all(z.local_time.time() >= time(8) for z in retry.zones)
        assert all(z.local_time.time() < time(21) for z in retry.zones)

    def test_australian_mobiles_have_a_short_common_window(self) -> None:
        # July: Cocos +06:30, Christmas Island +07, Perth +08, Sydney +10, Lord Howe +10:30.
        # Open from 08:00 on Cocos (01:30 UTC) until 21:00 at Lord Howe (10:30 UTC).
        decision = decide("+61412345678", None, utc(2026, 7, 1, 15, 0), LEGAL)
        assert decision.next_allowed_at == utc(2026, 7, 2, 1, 30)
        assert decide("+61412345678", None, utc(2026, 7, 2, 10, 29, 59), LEGAL).allowed
        late = decide("+61412345678", None, utc(2026, 7, 2, 10, 30), LEGAL)
        assert [z.zone for z in late.zones if not z.allowed] == ["Australia/Lord_Howe"]

    def test_zones_that_meet_only_in_one_season_are_found_months_ahead(self) -> None:
        # 08:00-12:15 everywhere: Cocos (+06:30) to Lord Howe spans 4 h in the southern winter
        # (+10:30) but 4 h 30 in summer (+11), so from January the first common instant is
        # after daylight saving ends in Sydney and Lord Howe (5 April 2026).
        rules = WindowRules(window=LocalWindow(end=time(12, 15)))
        summer = decide("+61412345678", None, utc(2026, 1, 10, 0, 0), rules)
        assert summer.next_allowed_at == utc(2026, 4, 5, 1, 30)
        assert decide("+61412345678", None, utc(2026, 4, 5, 1, 44, 59), rules).allowed
        assert not decide("+61412345678", None, utc(2026, 4, 4, 1, 30), rules).allowed

    def test_a_toll_free_number_could_be_anywhere_in_the_plan(self) -> None:
        # +1 800 gives every NANP zone, Guam (+10) to Pago Pago (-11): in July the only
        # common hours are 22:00-23:30 UTC (08:00 in Guam to 21:00 in St. John's).
        decision = decide("+18005550199", None, utc(2026, 7, 1, 12, 0), LEGAL)
        assert {"Pacific/Guam", "Pacific/Honolulu", "America/St_Johns"} <= {
            z.zone for z in decision.zones
        }
        assert decision.next_allowed_at == utc(2026, 7, 1, 22, 0)
        assert decide("+18005550199", None, utc(2026, 7, 1, 23, 29, 59), LEGAL).allowed
        assert not decide("+18005550199", None, utc(2026, 7, 1, 23, 30), LEGAL).allowed

    def test_the_contacts_own_zone_wins_over_the_numbers(self) -> None:
        # 07:00 UTC: 03:00 in New York, 09:00 in Prague.
        decision = decide(NEW_YORK, "Europe/Prague", utc(2026, 7, 1, 7, 0), LEGAL)
        assert decision.allowed
        assert decision.zone_source == "contact"
        assert [z.zone for z in decision.zones] == ["Europe/Prague"]
        assert not decide(NEW_YORK, None, utc(2026, 7, 1, 7, 0), LEGAL).allowed

    @pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "../../etc/passwd", "", "Etc/Unknown"])
    def test_an_unknown_contact_zone_blocks_rather_than_guesses(self, zone: str) -> None:
        decision = decide(NEW_YORK, zone, utc(2026, 7, 1, 15, 0), LEGAL)
        assert (decision.allowed, decision.rule) == (False, UNKNOWN_ZONE)
        assert decision.next_allowed_at is None
        assert decision.zones == []

    def test_a_number_without_a_zone_blocks(self) -> None:
        # +800: an international freephone number, in no region and no zone.
        decision = decide("+80012345678", None, utc(2026, 7, 1, 15, 0), LEGAL)
        assert decision.rule == UNKNOWN_ZONE
        assert decide("+80012345678", "Europe/Prague", utc(2026, 7, 1, 8, 0), LEGAL).allowed

    @pytest.mark.parametrize(
        "number", ["12125551234", "+1212", "+1 555 0100", "call me", "+999123"]
    )
    def test_an_invalid_number_blocks(self, number: str) -> None:
        decision = decide(number, "America/New_York", utc(2026, 7, 1, 15, 0), LEGAL)
        assert (decision.allowed, decision.rule, decision.next_allowed_at) == (
            False,
            INVALID_NUMBER,
            None,
        )

    def test_a_naive_instant_is_refused(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            decide(NEW_YORK, None, datetime(2026, 7, 1, 15, 0), LEGAL)


FLORIDA_RULES = WindowRules(
    regions=[
        RegionWindows(
            region=Region(country="US", subdivision="US-FL"),
            window=LocalWindow(start=time(8), end=time(20)),
        )
    ]
)


class TestTenantRules:
    def test_a_state_window_applies_to_its_area_codes_only(self) -> None:
        at = local("America/New_York", 2026, 7, 1, 20, 30)
        florida = decide(FLORIDA, None, at, FLORIDA_RULES)
        assert florida.rule == TOO_LATE
        assert florida.zones[0].window == "08:00:00-20:00:00"
        assert florida.zones[0].sources == ["region US-FL"]
        assert florida.next_allowed_at == local("America/New_York", 2026, 7, 2, 8, 0)
        assert decide(NEW_YORK, None, at, FLORIDA_RULES).allowed

    @pytest.mark.parametrize(
        ("country", "region"), [("US", "FL"), ("us", "fl"), ("US", "US-FL"), (None, "US-FL")]
    )
    def test_a_state_window_applies_to_a_contact_living_there(
        self, country: str | None, region: str
    ) -> None:
        at = local("America/New_York", 2026, 7, 1, 20, 30)
        decision = decide(
            NEW_YORK, None, at, FLORIDA_RULES, contact_country=country, contact_region=region
        )
        assert decision.rule == TOO_LATE
        assert decision.subdivisions == ["US-FL", "US-NY"]

    def test_a_country_rule_applies_to_a_contact_living_there(self) -> None:
        rules = WindowRules(
            regions=[RegionWindows(region=Region(country="CZ"), window=LocalWindow(end=time(20)))]
        )
        # Judged in the candidate zones' local time: here New York's, 20:30.
        at = local("America/New_York", 2026, 7, 1, 20, 30)
        assert decide(NEW_YORK, None, at, rules).allowed
        abroad = decide(NEW_YORK, None, at, rules, contact_country="CZ")
        assert abroad.rule == TOO_LATE
        assert abroad.zones[0].sources == ["region CZ"]
        # Her own zone, Prague, is in CZ: the rule applies there without the address.
        in_prague = local("Europe/Prague", 2026, 7, 1, 20, 30)
        assert decide(NEW_YORK, "Europe/Prague", in_prague, rules).rule == TOO_LATE

    @pytest.mark.parametrize(
        ("country", "region"), [("USA", "FL"), (None, "FL"), ("US", "F L"), ("CA", "US-FL")]
    )
    def test_a_malformed_contact_address_is_ignored(self, country: str | None, region: str) -> None:
        at = local("America/New_York", 2026, 7, 1, 20, 30)
        decision = decide(
            NEW_YORK, None, at, FLORIDA_RULES, contact_country=country, contact_region=region
        )
        assert decision.allowed
        assert decision.subdivisions == ["US-NY"]

    def test_a_zone_rule_applies_only_when_the_person_is_taken_to_be_there(self) -> None:
        rules = WindowRules(
            regions=[
                RegionWindows(
                    region=Region(country="US", zone="America/Los_Angeles"),
                    window=LocalWindow(start=time(9)),
                )
            ]
        )
        # 16:30 UTC: 10:30 in Boise, 09:30 in Los Angeles; 15:30 UTC: 08:30 in Los Angeles.
        assert decide(IDAHO, None, utc(2026, 7, 1, 16, 30), rules).allowed
        blocked = decide(IDAHO, None, utc(2026, 7, 1, 15, 30), rules)
        assert [(z.zone, z.rule) for z in blocked.zones] == [
            ("America/Boise", ALLOWED),
            ("America/Los_Angeles", TOO_EARLY),
        ]
        assert blocked.next_allowed_at == utc(2026, 7, 1, 16, 0)
        assert decide(IDAHO, "America/Boise", utc(2026, 7, 1, 15, 30), rules).allowed

    def test_weekday_windows_and_closed_days_carry_a_retry_over_the_weekend(self) -> None:
        rules = WindowRules(
            regions=[
                RegionWindows(
                    region=Region(country="CZ"),
                    weekdays={"fri": LocalWindow(end=time(17))},
                    closed_days=frozenset({"sat", "sun"}),
                )
            ]
        )
        friday_evening = decide(PRAGUE, None, local("Europe/Prague", 2026, 7, 3, 17, 0), rules)
        assert friday_evening.rule == TOO_LATE
        assert friday_evening.next_allowed_at == local("Europe/Prague", 2026, 7, 6, 8, 0)
        assert decide(PRAGUE, None, local("Europe/Prague", 2026, 7, 3, 16, 59), rules).allowed
        saturday = decide(PRAGUE, None, local("Europe/Prague", 2026, 7, 4, 11, 0), rules)
        assert (saturday.rule, saturday.zones[0].window) == (CLOSED_DAY, None)
        assert saturday.zones[0].sources == ["region CZ"]
        assert saturday.next_allowed_at == local("Europe/Prague", 2026, 7, 6, 8, 0)
        # Other countries keep their every-day legal window.
        assert decide(NEW_YORK, None, local("America/New_York", 2026, 7, 4, 11, 0), rules).allowed

    def test_windows_from_several_matching_rules_narrow_each_other(self) -> None:
        rules = WindowRules(
            window=LocalWindow(start=time(9)),
            weekdays={"wed": LocalWindow(end=time(20))},
            regions=[
                RegionWindows(region=Region(country="CZ"), window=LocalWindow(end=time(19))),
                RegionWindows(region=Region(country="CZ"), window=LocalWindow(start=time(10))),
            ],
        )
        at = local("Europe/Prague", 2026, 7, 1, 12, 0)  # a Wednesday
        prague = decide(PRAGUE, None, at, rules).zones[0]
        assert prague.window == "10:00:00-19:00:00"
        assert prague.sources == ["tenant", "region CZ", "region CZ"]
        assert decide(NEW_YORK, None, at, rules).zones[0].window == "09:00:00-20:00:00"
        disjoint = WindowRules(
            window=LocalWindow(end=time(10)),
            regions=[
                RegionWindows(region=Region(country="CZ"), window=LocalWindow(start=time(11)))
            ],
        )
        assert decide(PRAGUE, None, at, disjoint).rule == NO_ALLOWED_TIME

    def test_yearly_and_one_off_holidays(self) -> None:
        rules = WindowRules(
            holidays=[
                Holiday(date=date(1990, 12, 25), yearly=True, region=Region(country="CZ")),
                Holiday(date=date(2026, 12, 26), region=Region(country="CZ")),
                Holiday(date=date(2000, 1, 1), yearly=True),
            ]
        )
        christmas = decide(PRAGUE, None, local("Europe/Prague", 2026, 12, 25, 10, 0), rules)
        assert (christmas.rule, christmas.zones[0].window) == (HOLIDAY, None)
        assert christmas.zones[0].sources == ["holiday 1990-12-25 yearly in CZ"]
        assert christmas.next_allowed_at == local("Europe/Prague", 2026, 12, 27, 8, 0)
        assert decide(PRAGUE, None, local("Europe/Prague", 2027, 12, 25, 10, 0), rules).rule == (
            HOLIDAY
        )
        assert decide(PRAGUE, None, local("Europe/Prague", 2027, 12, 26, 10, 0), rules).allowed
        assert decide(NEW_YORK, None, local("America/New_York", 2026, 12, 25, 10), rules).allowed
        new_year = decide(NEW_YORK, None, local("America/New_York", 2027, 1, 1, 10), rules)
        assert new_year.rule == HOLIDAY

    def test_a_holiday_is_the_local_date_in_each_candidate_zone(self) -> None:
        # 2026-07-04 22:30 UTC is 08:30 on the 5th in Guam, 12:30 on the 4th in Honolulu.
        toll_free = "+18005550199"
        assert decide(toll_free, None, utc(2026, 7, 4, 22, 30), LEGAL).allowed
        rules = WindowRules(holidays=[Holiday(date=date(2026, 7, 4), yearly=True)])
        decision = decide(toll_free, None, utc(2026, 7, 4, 22, 30), rules)
        by_zone = {z.zone: z.rule for z in decision.zones}
        assert (by_zone["Pacific/Guam"], by_zone["Pacific/Honolulu"]) == (ALLOWED, HOLIDAY)
        assert decision.rule == HOLIDAY
        assert decision.next_allowed_at == utc(2026, 7, 5, 22, 0)

    def test_zones_that_never_share_an_hour_say_a_retry_is_pointless(self) -> None:
        one_hour = WindowRules(
            regions=[
                RegionWindows(
                    region=Region(country="AU"), window=LocalWindow(start=time(8), end=time(9))
                )
            ]
        )
        decision = decide("+61412345678", None, utc(2026, 7, 1, 0, 0), one_hour)
        assert (decision.allowed, decision.rule, decision.next_allowed_at) == (
            False,
            NO_ALLOWED_TIME,
            None,
        )
        every_day_closed = WindowRules(
            closed_days=frozenset(["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
        )
        assert decide(PRAGUE, None, utc(2026, 7, 1, 9), every_day_closed).rule == NO_ALLOWED_TIME


class TestConfiguration:
    @pytest.mark.parametrize(
        ("start", "end"),
        [
            (time(7, 59), time(21)),
            (time(8), time(21, 0, 1)),
            (time(12), time(12)),
            (time(13), time(9)),
        ],
    )
    def test_a_window_looser_than_the_law_or_empty_is_refused(self, start: time, end: time) -> None:
        with pytest.raises(ValidationError):
            LocalWindow(start=start, end=end)
        with pytest.raises(ValidationError, match="window"):
            WindowRules.model_validate(
                {
                    "regions": [
                        {
                            "region": {"country": "US"},
                            "window": {"start": str(start), "end": str(end)},
                        }
                    ]
                }
            )

    @pytest.mark.parametrize(
        "region",
        [
            {"country": "USA"},
            {"country": "1"},
            {"country": "US", "subdivision": "FL"},
            {"country": "US", "subdivision": "CA-ON"},
            {"country": "US", "zone": "America/Nowhere"},
            {"country": "US", "state": "FL"},
        ],
    )
    def test_a_malformed_region_is_refused(self, region: dict[str, str]) -> None:
        with pytest.raises(ValidationError):
            Region.model_validate(region)

    def test_a_region_rule_that_restricts_nothing_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="must give"):
            RegionWindows(region=Region(country="US"))

    def test_rules_round_trip_through_json(self) -> None:
        rules = WindowRules.model_validate(
            {
                "window": {"start": "08:30", "end": "20:30"},
                "weekdays": {"sat": {"start": "10:00", "end": "14:00"}},
                "closed_days": ["sun"],
                "regions": [
                    {
                        "region": {"country": "us", "subdivision": "us-fl"},
                        "window": {"end": "20:00"},
                    }
                ],
                "holidays": [{"date": "2026-12-25", "yearly": True, "name": "Christmas"}],
            }
        )
        assert rules.regions[0].region.subdivision == "US-FL"
        assert WindowRules.model_validate_json(rules.model_dump_json()) == rules

    def test_a_decision_is_stored_and_read_back_as_json(self) -> None:
        decision = decide(IDAHO, None, utc(2026, 7, 1, 14, 30), LEGAL)
        record = decision.as_record()
        assert record["rule"] == TOO_EARLY
        assert record["next_allowed_at"] == "2026-07-01T15:00:00Z"
        assert record["zones"][0]["local_time"] == "2026-07-01T08:30:00-06:00"
        assert WindowDecision.model_validate(record) == decision
        assert set(RULES) >= {decision.rule, ALLOWED, NO_ALLOWED_TIME}


# --- property: whatever decide allows is inside the window everywhere, and its retry works.

ZONES = [
    "America/New_York",
    "Europe/Prague",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Pacific/Chatham",
    "Asia/Kolkata",
    "America/St_Johns",
    "Africa/Khartoum",
]
NUMBERS = [NEW_YORK, PRAGUE, IDAHO, FLORIDA, "+61412345678", "+16055550100"]


@st.composite
def tenant_rules(draw: st.DrawFn) -> WindowRules:
    def window() -> st.SearchStrategy[LocalWindow]:
        minutes = st.integers(8 * 60, 21 * 60)
        return (
            st.tuples(minutes, minutes)
            .filter(lambda p: p[0] < p[1])
            .map(lambda p: LocalWindow(start=time(*divmod(p[0], 60)), end=_end(p[1])))
        )

    days = st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
    return WindowRules.model_validate(
        {
            "window": draw(st.none() | window()),
            "weekdays": draw(st.dictionaries(days, window(), max_size=3)),
            "closed_days": draw(st.frozensets(days, max_size=3)),
            "regions": draw(
                st.lists(
                    st.builds(
                        RegionWindows,
                        region=st.sampled_from(
                            [Region(country="US"), Region(country="US", subdivision="US-FL")]
                        ),
                        window=window(),
                    ),
                    max_size=2,
                )
            ),
            "holidays": draw(
                st.lists(
                    st.builds(
                        Holiday,
                        date=st.dates(date(2020, 1, 1), date(2030, 12, 31)),
                        yearly=st.booleans(),
                    ),
                    max_size=4,
                )
            ),
        }
    )


def _end(minutes: int) -> time:
    return time(*divmod(minutes, 60))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    number=st.sampled_from(NUMBERS),
    contact_zone=st.none() | st.sampled_from(ZONES),
    at=st.datetimes(datetime(2020, 1, 1), datetime(2030, 12, 31), timezones=st.just(UTC)),
    rules=tenant_rules(),
)
def test_property_allowed_means_inside_every_window_and_retries_succeed(
    number: str, contact_zone: str | None, at: datetime, rules: WindowRules
) -> None:
    decision = decide(number, contact_zone, at, rules)
    if decision.allowed:
        assert decision.next_allowed_at == decision.at
        for check in decision.zones:
            assert check.allowed
            assert check.window is not None
            start, end = (time.fromisoformat(t) for t in check.window.split("-"))
            assert start <= check.local_time.time() < end
            assert time(8) <= check.local_time.time() < time(21)
        return
    if decision.next_allowed_at is None:
        assert decision.rule == NO_ALLOWED_TIME
        return
    assert decision.next_allowed_at > decision.at
    retry = decide(number, contact_zone, decision.next_allowed_at, rules)
    assert retry.allowed, retry
    just_before = decision.next_allowed_at - timedelta(microseconds=1)
    if just_before >= decision.at:
        assert not decide(number, contact_zone, just_before, rules).allowed
