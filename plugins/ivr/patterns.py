"""Regular expressions written by flow authors (gather branches, ``matches()``), compiled
with RE2: matching takes time linear in the input whatever the pattern, so a pattern such as
``(a+)+$`` cannot stall a worker that serves every tenant. RE2 has no backreferences or
lookaround; a pattern using them is refused when the flow is saved."""

from __future__ import annotations

import functools
from typing import Any

import re2

MAX_PATTERN_LENGTH = 200


class PatternError(ValueError):
    """The pattern is not one RE2 accepts (or is too long)."""


@functools.lru_cache(maxsize=512)
def compile_pattern(regex: str) -> Any:
    """The compiled pattern (``.fullmatch(text)``), or :class:`PatternError`."""
    if len(regex) > MAX_PATTERN_LENGTH:
        raise PatternError(f"longer than {MAX_PATTERN_LENGTH} characters")
    try:
        return re2.compile(regex)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternError(str(reason)) from None


def fullmatch(regex: str, text: str) -> bool:
    return compile_pattern(regex).fullmatch(text) is not None
