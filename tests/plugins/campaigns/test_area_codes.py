"""The committed area-code table agrees with libphonenumber, and feeds regional rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from plugins.campaigns.compliance.nanp_areas import AREA_CODES
from plugins.campaigns.compliance.subdivisions import generate_area_codes, subdivision_code
from plugins.campaigns.compliance.window import decide
from plugins.campaigns.compliance.window_rules import WindowRules


def test_the_table_matches_the_installed_phonenumbers() -> None:
    # When phonenumbers is upgraded and this fails, regenerate:
    #   .venv/bin/python -m plugins.campaigns.compliance.subdivisions \
    #       > plugins/campaigns/compliance/nanp_areas.py
    assert generate_area_codes() == AREA_CODES


@pytest.mark.parametrize(
    ("description", "code"),
    [
        (("US", "Idaho"), "US-ID"),
        (("US", "New York, NY"), "US-NY"),
        (("US", "Washington, DC"), "US-DC"),
        (("CA", "Ontario"), "CA-ON"),
        (("CA", "Toronto, ON"), "CA-ON"),
        (("US", "Ontario"), None),
        (("US", "Jamaica"), None),
        (("JM", "Kingston"), None),
        (("US", ""), None),
    ],
)
def test_place_names_become_iso_codes(description: tuple[str, str], code: str | None) -> None:
    assert subdivision_code(*description) == code


@pytest.mark.parametrize(
    ("number", "subdivisions"),
    [
        ("+12085550100", ["US-ID"]),
        ("+13055550100", ["US-FL"]),
        ("+14165550123", ["CA-ON"]),
        ("+19025550123", ["CA-NS", "CA-PE"]),  # one area code for two provinces
        ("+18005550199", []),  # toll-free: no place
        ("+18765550123", []),  # Jamaica: NANP, but neither US nor Canada
        ("+420601123456", []),
    ],
)
def test_a_numbers_subdivisions(number: str, subdivisions: list[str]) -> None:
    decision = decide(number, None, datetime(2026, 7, 1, 16, tzinfo=UTC), WindowRules())
    assert decision.subdivisions == subdivisions
