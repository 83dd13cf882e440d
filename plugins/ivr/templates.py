"""Prompt text filled in from call variables.

Rules for flow authors:

- ``{{ path }}`` inserts a variable. ``path`` is a name or dotted names (``customer.name``
  reads the key ``name`` of ``customer``). Names start with a letter and contain letters,
  digits and ``_``. A variable that is not set inserts nothing.
- Values are spoken as: nothing for an unset value, ``yes``/``no`` for true/false,
  ``12`` for ``12.0``, anything else as written.
- Filters follow ``|`` and apply left to right:
  ``digits`` spells characters one by one (``1234`` becomes ``1 2 3 4``), ``upper``,
  ``lower``, ``money`` (two decimals: ``12.5`` becomes ``12.50``; a value that is not a
  number is left as is) and ``default("text")``, used when the value is unset or empty.
  Example: ``{{ balance | money }}``, ``{{ customer.name | default("there") }}``.
- ``{{`` always opens a placeholder and ``}}`` always closes one; a stray or unclosed
  brace pair, an empty placeholder, a bad path or an unknown filter is refused when the
  flow is saved.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Final

__all__ = ["TemplateError", "check_template", "render", "template_names"]

_PATH: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*")
_FILTER: Final = re.compile(
    r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?:\(\s*(?P<arg>\"[^\"]*\"|'[^']*')?\s*\))?"
)


class TemplateError(ValueError):
    """A template that cannot be rendered; the message says what and where."""


def format_value(value: Any) -> str:
    """How a value is spoken: None is silent, booleans are yes/no, 12.0 is 12."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- filters ---------------------------------------------------------------------------


def _digits(value: Any, _: str | None) -> str:
    return " ".join(character for character in format_value(value) if not character.isspace())


def _upper(value: Any, _: str | None) -> str:
    return format_value(value).upper()


def _lower(value: Any, _: str | None) -> str:
    return format_value(value).lower()


def _money(value: Any, _: str | None) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return value
    try:
        amount = Decimal(str(value).strip())
        # Decimal from the text, not the float, so 2.675 rounds to 2.68 as people expect.
        return str(amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    except (InvalidOperation, ValueError):
        return value


def _default(value: Any, text: str | None) -> Any:
    if value is None or value in ("", [], {}):
        return text
    return value


# name -> (function, takes a text argument)
_FILTERS: Final[Mapping[str, tuple[Callable[[Any, str | None], Any], bool]]] = {
    "digits": (_digits, False),
    "upper": (_upper, False),
    "lower": (_lower, False),
    "money": (_money, False),
    "default": (_default, True),
}


# --- parsing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Filter:
    name: str
    argument: str | None


@dataclass(frozen=True)
class _Placeholder:
    path: tuple[str, ...]
    filters: tuple[_Filter, ...]


_Part = str | _Placeholder


def _closing(text: str, start: int) -> int:
    """Index of the ``}}`` closing the placeholder opened at ``start``, skipping quotes."""
    quote: str | None = None
    position = start + 2
    while position < len(text):
        character = text[position]
        if quote is not None:
            if character == quote:
                quote = None
        elif character in "\"'":
            quote = character
        elif text.startswith("}}", position):
            return position
        position += 1
    raise TemplateError(f"'{{{{' at position {start} is never closed with '}}}}'")


def _split_filters(inner: str) -> list[str]:
    """Split on ``|`` outside quotes, so default("a|b") stays one filter."""
    pieces: list[str] = []
    current: list[str] = []
    quote: str | None = None
    for character in inner:
        if quote is not None:
            quote = None if character == quote else quote
        elif character in "\"'":
            quote = character
        elif character == "|":
            pieces.append("".join(current))
            current = []
            continue
        current.append(character)
    pieces.append("".join(current))
    return pieces


def _parse_filter(source: str, start: int) -> _Filter:
    match = _FILTER.fullmatch(source.strip())
    if match is None:
        raise TemplateError(f"filter {source.strip()!r} at position {start} is malformed")
    name, argument = match["name"], match["arg"]
    if name not in _FILTERS:
        known = ", ".join(sorted(_FILTERS))
        raise TemplateError(f"unknown filter '{name}' at position {start} (known: {known})")
    takes_argument = _FILTERS[name][1]
    if takes_argument and argument is None:
        raise TemplateError(f"filter '{name}' at position {start} needs a text: {name}(\"...\")")
    if not takes_argument and "(" in source:
        raise TemplateError(f"filter '{name}' at position {start} takes no argument")
    return _Filter(name, None if argument is None else argument[1:-1])


def _parse_placeholder(inner: str, start: int) -> _Placeholder:
    path, *filters = _split_filters(inner)
    path = path.strip()
    if not path:
        if not filters and not inner.strip():
            raise TemplateError(f"empty placeholder at position {start}")
        raise TemplateError(f"placeholder at position {start} has no variable before '|'")
    if _PATH.fullmatch(path) is None:
        raise TemplateError(
            f"bad variable path {path!r} at position {start}: use names like customer.name"
        )
    return _Placeholder(
        tuple(path.split(".")), tuple(_parse_filter(item, start) for item in filters)
    )


def _literal(text: str, offset: int) -> str:
    stray = text.find("}}")
    if stray != -1:
        raise TemplateError(f"'}}}}' at position {offset + stray} has no opening '{{{{'")
    return text


@functools.lru_cache(maxsize=1024)
def _parse(text: str) -> tuple[_Part, ...]:
    """Split a template into literal text and placeholders; cached, flows reuse prompts."""
    parts: list[_Part] = []
    position = 0
    while (start := text.find("{{", position)) != -1:
        if start > position:
            parts.append(_literal(text[position:start], position))
        end = _closing(text, start)
        parts.append(_parse_placeholder(text[start + 2 : end], start))
        position = end + 2
    if position < len(text):
        parts.append(_literal(text[position:], position))
    return tuple(parts)


# --- public API ------------------------------------------------------------------------


def _lookup(variables: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = variables
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _fill(placeholder: _Placeholder, variables: Mapping[str, Any]) -> str:
    value = _lookup(variables, placeholder.path)
    for item in placeholder.filters:
        value = _FILTERS[item.name][0](value, item.argument)
    return format_value(value)


def render(text: str, variables: Mapping[str, Any]) -> str:
    """Fill the placeholders from the call's variables; TemplateError if the text is bad."""
    return "".join(
        part if isinstance(part, str) else _fill(part, variables) for part in _parse(text)
    )


def check_template(text: str) -> None:
    """Raise TemplateError when ``text`` could not be rendered; used when saving a flow."""
    _parse(text)


def template_names(text: str) -> frozenset[str]:
    """The top-level variables a template reads, for validating a flow."""
    return frozenset(part.path[0] for part in _parse(text) if isinstance(part, _Placeholder))
