"""E.164 phone numbers, validated with ``phonenumbers`` (Google's libphonenumber data)."""

from __future__ import annotations

import phonenumbers

from kernel import ProblemError
from plugins.calls.problems import INVALID_NUMBER


def to_e164(value: str, *, field: str) -> str:
    """``value`` as E.164 (``+4930123456``), or a 422 naming the field.

    Only full international numbers are accepted: a number without its country code means
    different things in different places, and a call center dials the whole world.
    """
    try:
        parsed = phonenumbers.parse(value.strip(), None)
    except phonenumbers.NumberParseException as exc:
        raise ProblemError(
            INVALID_NUMBER, f"{field}: {value!r} is not a phone number ({exc})", field=field
        ) from None
    if not phonenumbers.is_valid_number(parsed):
        raise ProblemError(
            INVALID_NUMBER, f"{field}: {value!r} is not a valid phone number", field=field
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def is_e164(value: str) -> bool:
    """Whether ``value`` is a valid number already in E.164 form (provider reports)."""
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(parsed) and value == phonenumbers.format_number(
        parsed, phonenumbers.PhoneNumberFormat.E164
    )
