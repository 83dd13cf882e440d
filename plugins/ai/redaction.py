"""Masking what must not leave the platform: card numbers, bank details, US social security
numbers, card security codes, and the tenant's own patterns.

Applied to the system text and every message before a request goes to a provider other than
the offline one, and before a prompt is logged. Checksums (Luhn for cards, mod-97 for IBANs)
keep ordinary long numbers (order ids, phone numbers) readable; keyword-anchored rules
(``account number``, ``routing``, ``cvv``) catch what has no checksum.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

CARD = "[card]"
IBAN = "[iban]"
SSN = "[ssn]"
CVV = "[cvv]"
ACCOUNT = "[account]"
ROUTING = "[routing]"
SORT_CODE = "[sort-code]"

_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?)\b")
_SSN = re.compile(r"(?<!\d)(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}(?!\d)")
_CVV = re.compile(
    r"(?i)\b(cvv2?|cvc2?|csc|cid|security\s+code|card\s+verification(?:\s+(?:code|value))?)"
    r"(\s*(?:is|:|#|=)?\s*)(\d{3,4})(?!\d)"
)
_ROUTING = re.compile(
    r"(?i)\b(routing|aba|transit|sort\s*code)(\s*(?:number|no\.?|num|#)?\s*(?:is|:|#)?\s*)"
    r"(\d[\d -]{3,10}\d)(?!\d)"
)
_ACCOUNT = re.compile(
    r"(?i)\b(account|acct|a/c)(\s*(?:number|no\.?|num|#)?\s*(?:is|:|#)?\s*)"
    r"(\d[\d -]{4,22}\d)(?!\d)"
)
_SORT_CODE = re.compile(r"(?<![\d-])\d{2}-\d{2}-\d{2}(?![\d-])")

_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*(?:[+*]|\{\d*,?\d*\})\)\s*(?:[+*]|\{\d*,)")
"""A quantified group that itself holds a quantifier (``(a+)+``, ``(\\w*)*``): the shape
of catastrophic backtracking."""
MAX_PATTERN_LENGTH = 300


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters to numbers, mod 97 is 1."""
    text = candidate.replace(" ", "").upper()
    if not 15 <= len(text) <= 34 or not text[:2].isalpha() or not text[2:4].isdigit():
        return False
    rearranged = text[4:] + text[:4]
    try:
        number = int("".join(str(int(char, 36)) for char in rearranged))
    except ValueError:
        return False
    return number % 97 == 1


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if 13 <= len(digits) <= 19 and luhn_valid(digits):
        return CARD
    return match.group(0)


def _iban(match: re.Match[str]) -> str:
    return IBAN if iban_valid(match.group(0)) else match.group(0)


def _keyed(mask: str) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        return f"{match.group(1)}{match.group(2)}{mask}"

    return replace


_BUILT_IN: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    (_CARD, _card),
    (_IBAN, _iban),
    (_SSN, SSN),
    (_CVV, _keyed(CVV)),
    (_ROUTING, _keyed(ROUTING)),
    (_ACCOUNT, _keyed(ACCOUNT)),
    (_SORT_CODE, SORT_CODE),
]


class PatternError(ValueError):
    """A tenant pattern that is not a valid, safe regular expression."""


def check_pattern(regex: str) -> re.Pattern[str]:
    """Compile a tenant's pattern, refusing invalid ones, ones that match the empty string
    (they would mask between every character) and the catastrophic-looking ones."""
    if len(regex) > MAX_PATTERN_LENGTH:
        raise PatternError(f"longer than {MAX_PATTERN_LENGTH} characters")
    try:
        compiled = re.compile(regex)
    except re.error as exc:
        raise PatternError(f"not a valid regular expression ({exc})") from None
    if _NESTED_QUANTIFIER.search(regex) or re.search(r"\\[1-9]", regex):
        raise PatternError(
            "a quantified group holding a quantifier (or a backreference) may backtrack "
            "catastrophically; write it without nesting"
        )
    if compiled.search("") is not None:
        raise PatternError("matches the empty string")
    return compiled


@dataclass(frozen=True, slots=True)
class TenantPattern:
    name: str
    pattern: re.Pattern[str]

    @property
    def mask(self) -> str:
        return f"[{self.name}]"


@dataclass(frozen=True, slots=True)
class Redactor:
    """The built-in rules and a tenant's own patterns (masked as ``[<name>]``)."""

    patterns: Sequence[TenantPattern] = ()

    def __call__(self, text: str) -> str:
        for pattern, replacement in _BUILT_IN:
            text = pattern.sub(replacement, text)
        for own in self.patterns:
            text = own.pattern.sub(own.mask, text)
        return text


def redactor(patterns: Sequence[dict[str, str]]) -> Redactor:
    """A tenant's redactor from its stored patterns (validated when they were saved; one
    that no longer compiles is skipped rather than breaking every request)."""
    compiled: list[TenantPattern] = []
    for item in patterns:
        try:
            compiled.append(TenantPattern(item["name"], check_pattern(item["regex"])))
        except (PatternError, KeyError):
            continue
    return Redactor(tuple(compiled))
