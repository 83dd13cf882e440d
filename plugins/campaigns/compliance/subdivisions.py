"""The US state or Canadian province of a North American number's area code.

North American area codes do not cross state or province lines, so the area code names the
subdivision of the *number* (not of the person). libphonenumber's geocoder knows it, as
English place names (``"Idaho"``, ``"New York, NY"``), but loading it costs ~170 MB per
process; the table in ``nanp_areas`` is generated from it instead (run this module to
regenerate it; a test fails when it no longer matches the installed ``phonenumbers``).
"""

from __future__ import annotations

import sys
from collections import defaultdict

from plugins.campaigns.compliance.nanp_areas import AREA_CODES

_NAMES: dict[str, dict[str, str]] = {
    "US": {
        "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR",
        "California": "CA", "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE",
        "District of Columbia": "DC", "Washington D.C.": "DC", "Florida": "FL",
        "Georgia": "GA", "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN",
        "Iowa": "IA", "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME",
        "Maryland": "MD", "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN",
        "Mississippi": "MS", "Missouri": "MO", "Montana": "MT", "Nebraska": "NE",
        "Nevada": "NV", "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM",
        "New York": "NY", "North Carolina": "NC", "North Dakota": "ND", "Ohio": "OH",
        "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA", "Rhode Island": "RI",
        "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN", "Texas": "TX",
        "Utah": "UT", "Vermont": "VT", "Virginia": "VA", "Washington": "WA",
        "Washington State": "WA", "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY",
    },
    "CA": {
        "Alberta": "AB", "British Columbia": "BC", "British Colombia": "BC",
        "Manitoba": "MB", "New Brunswick": "NB",
        "Newfoundland and Labrador": "NL", "Newfoundland": "NL", "Nova Scotia": "NS",
        "Northwest Territories": "NT", "Nunavut": "NU", "Ontario": "ON",
        "Prince Edward Island": "PE", "Quebec": "QC", "Québec": "QC", "Saskatchewan": "SK",
        "Yukon": "YT", "Nova Scotia/Prince Edward Island": "NS",
    },
}  # fmt: skip


def subdivision_code(country: str, description: str) -> str | None:
    """``US-ID`` for ``("US", "Idaho")``, ``US-NY`` for ``("US", "New York, NY")``."""
    names = _NAMES.get(country)
    if not names or not description:
        return None
    head, _, tail = description.rpartition(", ")
    tail = tail.strip()
    if head and len(tail) == 2 and tail.isupper() and tail in names.values():
        return f"{country}-{tail}"
    code = names.get(description.strip())
    return f"{country}-{code}" if code else None


def area_subdivisions(national_number: int) -> tuple[str, ...]:
    """``("US-ID",)`` for a North American national number in area code 208; several where
    the data names places in more than one (902: Nova Scotia and Prince Edward Island)."""
    return AREA_CODES.get(str(national_number)[:3], ())


def generate_area_codes() -> dict[str, tuple[str, ...]]:
    """Area code -> ISO 3166-2 codes, from the geocoder's data (slow: it loads all of it)."""
    from phonenumbers.geodata import GEOCODE_DATA  # ~170 MB: imported here only

    found: defaultdict[str, set[str | None]] = defaultdict(set)
    for prefix, names in GEOCODE_DATA.items():
        if prefix.startswith("1") and len(prefix) >= 4 and "en" in names:
            found[prefix[1:4]].add(_code(names["en"]))
    return {
        area: tuple(sorted(c for c in codes if c))
        for area, codes in sorted(found.items())
        if any(codes)
    }


def _code(description: str) -> str | None:
    return subdivision_code("US", description) or subdivision_code("CA", description)


def _render(areas: dict[str, tuple[str, ...]]) -> str:
    lines = [f'    "{area}": {codes!r},'.replace("'", '"') for area, codes in areas.items()]
    return (
        '"""Area code -> ISO 3166-2 for the US and Canada; generated from libphonenumber\'s\n'
        "geocoder by ``python -m plugins.campaigns.compliance.subdivisions``: do not edit.\n"
        '"""\n\n'
        "AREA_CODES: dict[str, tuple[str, ...]] = {\n" + "\n".join(lines) + "\n}\n"
    )


if __name__ == "__main__":
    sys.stdout.write(_render(generate_area_codes()))
