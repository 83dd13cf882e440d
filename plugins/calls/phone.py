"""E.164 phone numbers, validated with ``phonenumbers`` (Google's libphonenumber data), and
the SIP URIs an outbound call may be placed to (an agent's softphone)."""

from __future__ import annotations

import re

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


SIP_URI = re.compile(
    r"^sip:(?P<user>[A-Za-z0-9+][A-Za-z0-9._~+-]{0,63})"
    r"@(?P<host>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
    r"(?::(?P<port>[0-9]{1,5}))?$"
)
"""``sip:user@host[:port]``: a user of letters, digits and ``. _ ~ + -``, a host name or
IPv4 address, an optional port (no parameters, no password)."""
MAX_SIP_URI = 255


def is_sip_uri(value: str) -> bool:
    """Whether ``value`` is a SIP URI a call can be placed to (``sip:agent-7@pbx.example``)."""
    match = SIP_URI.match(value) if len(value) <= MAX_SIP_URI else None
    if match is None:
        return False
    port = match["port"]
    return port is None or 1 <= int(port) <= 65535


def check_destination(value: str, *, field: str = "to") -> str:
    """``value`` when it is a number in E.164 form or a SIP URI; else a 422 naming ``field``."""
    if is_e164(value) or is_sip_uri(value):
        return value
    raise ProblemError(
        INVALID_NUMBER,
        f"{field}: {value[:80]!r} is neither a number in E.164 form nor a SIP URI "
        "(sip:user@host[:port])",
        field=field,
    )
