"""The redaction rules on real-looking numbers and their near misses."""

from __future__ import annotations

import pytest

from plugins.ai.redaction import PatternError, Redactor, check_pattern, iban_valid, luhn_valid

redact = Redactor()


@pytest.mark.parametrize(
    "number",
    [
        "4111 1111 1111 1111",  # Visa test card, spaced
        "4111-1111-1111-1111",
        "4111111111111111",
        "5500 0000 0000 0004",  # Mastercard
        "3782 822463 10005",  # Amex, 15 digits
        "6011111111111117",  # Discover
        "4222222222222",  # 13 digits
        "6304 0000 0000 0000 018",  # 19 digits (Maestro-like, Luhn-valid)
    ],
)
def test_card_numbers_are_masked(number):
    assert luhn_valid(number.replace(" ", "").replace("-", ""))
    assert redact(f"card {number} thanks") == "card [card] thanks"


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 1112",  # fails Luhn
        "order 1234567890",  # too short
        "call +1 415 555 0100",  # a phone number
        "ref 12345678901234567890123",  # too long
        "on 2026-12-07 at 10:30",
    ],
)
def test_near_misses_stay_readable(text):
    assert redact(text) == text


def test_ibans_with_a_valid_checksum_are_masked():
    assert iban_valid("GB82WEST12345698765432")
    assert not iban_valid("GB82WEST12345698765433")
    assert redact("IBAN GB82 WEST 1234 5698 7654 32, ok") == "IBAN [iban], ok"
    assert redact("DE89370400440532013000") == "[iban]"
    assert redact("GB82WEST12345698765433") == "GB82WEST12345698765433"


def test_bank_details_ssn_and_security_codes():
    assert redact("account number 12345678, sort code 12-34-56") == (
        "account number [account], sort code [routing]"
    )
    assert redact("acct # 000123456789") == "acct # [account]"
    assert redact("routing number: 021000021") == "routing number: [routing]"
    assert redact("the sort code is 40-47-84") == "the sort code is [routing]"
    assert redact("paid from 20-00-00") == "paid from [sort-code]"
    assert redact("SSN 123-45-6789") == "SSN [ssn]"
    assert redact("ssn 000-12-3456") == "ssn 000-12-3456"  # never issued
    assert redact("my CVV is 123") == "my CVV is [cvv]"
    assert redact("security code: 4321") == "security code: [cvv]"
    assert redact("I waited 123 minutes") == "I waited 123 minutes"


def test_tenant_patterns_mask_with_their_name():
    from plugins.ai.redaction import redactor

    own = redactor([{"name": "order", "regex": r"ORD-\d{6}"}, {"name": "bad", "regex": "("}])
    assert own("order ORD-123456 and card 4111111111111111") == "order [order] and card [card]"


@pytest.mark.parametrize(
    ("regex", "reason"),
    [
        ("(a+)+$", "backtrack"),
        (r"(\w*)*x", "backtrack"),
        (r"(x|y{2,})*z", "backtrack"),
        (r"(a)\1", "backtrack"),
        ("[", "not a valid"),
        ("a*", "empty string"),
        ("x" * 301, "longer than"),
    ],
)
def test_unsafe_or_invalid_patterns_are_refused(regex, reason):
    with pytest.raises(PatternError, match=reason):
        check_pattern(regex)


def test_a_plain_pattern_is_accepted():
    assert check_pattern(r"ORD-\d{6}").pattern == r"ORD-\d{6}"
