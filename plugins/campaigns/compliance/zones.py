"""Where the called person may be: candidate time zones, countries and subdivisions.

The contact's own time zone wins (an area code does not prove where someone is); otherwise
every zone libphonenumber gives for the number is a candidate. The number's country and US/CA
state or province (from its area code) stay in play either way, so a regional rule that might
apply does apply: rules can only tighten, so applying one too many is the safe error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Literal
from zoneinfo import ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import NumberParseException, timezone

from plugins.campaigns.compliance.localtime import zone
from plugins.campaigns.compliance.subdivisions import area_subdivisions

_UNKNOWN = "Etc/Unknown"
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_SUBDIVISION = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}$")


class InvalidNumber(ValueError):
    """Not a valid E.164 number."""


class UnknownZone(ValueError):
    """No time zone can be named for the person: an unknown IANA key, or a number whose
    region has none."""


@dataclass(frozen=True, slots=True)
class Place:
    zones: tuple[str, ...]
    source: Literal["contact", "number"]
    country: str | None
    """The number's country (ISO alpha-2), ``None`` for non-geographic numbers."""
    contact_country: str | None
    """The country of the contact's address, when known."""
    subdivisions: frozenset[str]
    """ISO 3166-2 codes the person may be in (the number's area, the contact's address)."""

    def countries(self, key: str) -> frozenset[str]:
        """The countries whose rules apply when the person is taken to be in zone ``key``."""
        found = {c for c in (self.country, self.contact_country, zone_country(key)) if c}
        found.update(s.split("-", 1)[0] for s in self.subdivisions)
        return frozenset(found)


def place_of(
    number: str,
    contact_time_zone: str | None,
    *,
    contact_country: str | None = None,
    region: str | None = None,
) -> Place:
    """Where the person called on ``number`` may be (raises the errors above).

    ``contact_country`` and ``region`` are the contact's address (``US`` and ``FL`` or
    ``US-FL``); malformed ones are ignored rather than trusted.
    """
    try:
        parsed = phonenumbers.parse(number, None)
    except NumberParseException:
        raise InvalidNumber("not a phone number in E.164") from None
    if not number.startswith("+") or not phonenumbers.is_valid_number(parsed):
        raise InvalidNumber("not a valid number in its numbering plan")
    country = phonenumbers.region_code_for_number(parsed)
    country = country if country and len(country) == 2 and country.isalpha() else None
    subdivisions = set(_number_subdivisions(parsed, country))
    contact_country = _country(contact_country)
    code = (region or "").strip().upper()
    if contact_country and code and not code.startswith(f"{contact_country}-"):
        code = f"{contact_country}-{code}"
    if _SUBDIVISION.match(code) and contact_country in {None, code[:2]}:
        subdivisions.add(code)
        contact_country = code[:2]
    if contact_time_zone is not None:
        _check_zone(contact_time_zone)
        zones: tuple[str, ...] = (contact_time_zone,)
        source: Literal["contact", "number"] = "contact"
    else:
        zones = tuple(sorted(z for z in timezone.time_zones_for_number(parsed) if z != _UNKNOWN))
        if not zones:
            raise UnknownZone("the number's region has no time zone")
        for key in zones:
            _check_zone(key)
        source = "number"
    return Place(zones, source, country, contact_country, frozenset(subdivisions))


def _country(text: str | None) -> str | None:
    code = (text or "").strip().upper()
    return code if _COUNTRY.match(code) else None


def _check_zone(key: str) -> None:
    try:
        zone(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UnknownZone(f"unknown IANA time zone {key!r}") from None


def _number_subdivisions(parsed: phonenumbers.PhoneNumber, country: str | None) -> tuple[str, ...]:
    """The US state or Canadian province of the number's area code, when the data says."""
    if country not in {"US", "CA"} or parsed.national_number is None:
        return ()
    return tuple(s for s in area_subdivisions(parsed.national_number) if s.startswith(country))


@lru_cache(maxsize=1)
def _zone_countries() -> dict[str, str]:
    text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text("utf-8")
    found: dict[str, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            fields = line.split("\t")
            found[fields[2]] = fields[0]
    return found


def zone_country(key: str) -> str | None:
    """The country of an IANA zone (tzdata's ``zone.tab``); ``None`` for ``Etc/*`` and links."""
    return _zone_countries().get(key)
