"""Phone numbers as contacts hold them: E.164, with what the number itself implies.

National input (``0601 123 456``) is read with the tenant's default country; the region, the
time zones and the line type come from libphonenumber's data (``phonenumbers``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType, timezone

_LINE_TYPES: dict[int, str] = {
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal_number",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
}
_UNKNOWN_ZONE = "Etc/Unknown"
_DIGITS = re.compile(r"\D+")


class InvalidNumber(ValueError):
    """The text is not a valid phone number; the message says why, without the number."""


@dataclass(frozen=True)
class NormalizedNumber:
    e164: str
    region: str | None
    """ISO 3166-1 alpha-2 of the number (``None`` for non-geographic numbers)."""
    time_zones: tuple[str, ...]
    """Every zone the number may be in; empty when the data does not say."""
    line_type: str | None


def normalize(text: str, *, default_country: str | None) -> NormalizedNumber:
    """``text`` as E.164 with its region, zones and line type, or :class:`InvalidNumber`."""
    return _normalize(text.strip(), (default_country or "").upper() or None)


@lru_cache(maxsize=65536)
def _normalize(text: str, default_country: str | None) -> NormalizedNumber:
    if not text:
        raise InvalidNumber("empty")
    if len(text) > 64:
        raise InvalidNumber("too long to be a phone number")
    try:
        parsed = phonenumbers.parse(text, None if text.startswith("+") else default_country)
    except NumberParseException as exc:
        if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE and not default_country:
            raise InvalidNumber("no country code, and no default country to read it with") from None
        raise InvalidNumber(_reason(exc)) from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidNumber("not a valid number in its numbering plan")
    zones = tuple(z for z in timezone.time_zones_for_number(parsed) if z != _UNKNOWN_ZONE)
    return NormalizedNumber(
        e164=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        region=phonenumbers.region_code_for_number(parsed) or None,
        time_zones=zones,
        line_type=_LINE_TYPES.get(phonenumbers.number_type(parsed)),
    )


def _reason(exc: NumberParseException) -> str:
    return {
        NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
        NumberParseException.NOT_A_NUMBER: "not a phone number",
        NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
        NumberParseException.TOO_SHORT_NSN: "too short",
        NumberParseException.TOO_LONG: "too long",
    }.get(exc.error_type, "not a phone number")


def search_digits(text: str) -> str:
    """The digits of a number as typed, for text search (``+1 (415) 555`` -> ``1415555``)."""
    return _DIGITS.sub("", text)
