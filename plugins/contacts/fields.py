"""Custom contact fields: the tenant defines them (text, number, date, choice), every value
written to a contact is checked against its definition."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plugins.contacts.models import FieldDefinition, FieldType

MAX_TEXT = 2000


class FieldProblem(ValueError):
    """One value that does not fit: ``field`` names it (``custom_fields.<key>``)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


async def definitions(session: AsyncSession) -> dict[str, FieldDefinition]:
    """The tenant's custom fields by key."""
    rows = await session.scalars(select(FieldDefinition).order_by(FieldDefinition.key))
    return {row.key: row for row in rows}


def check_values(
    values: Mapping[str, Any],
    known: Mapping[str, FieldDefinition],
    *,
    partial: bool,
) -> tuple[dict[str, Any], list[FieldProblem]]:
    """The values as stored (numbers as numbers, dates as ``YYYY-MM-DD``), and what is wrong.

    ``None`` removes a value. ``partial`` (an update of some fields) does not ask for the
    required fields that were not sent.
    """
    stored: dict[str, Any] = {}
    problems: list[FieldProblem] = []
    for key, value in values.items():
        definition = known.get(key)
        if definition is None:
            problems.append(FieldProblem(f"custom_fields.{key}", "no such custom field"))
            continue
        if value is None or value == "":
            stored[key] = None
            continue
        try:
            stored[key] = coerce(definition, value)
        except FieldProblem as problem:
            problems.append(problem)
    if not partial:
        for key, definition in known.items():
            if definition.required and stored.get(key) is None:
                problems.append(FieldProblem(f"custom_fields.{key}", "required"))
    return stored, problems


def coerce(definition: FieldDefinition, value: Any) -> Any:
    """One value in its stored form, or :class:`FieldProblem`. Text from a CSV file is
    accepted for every type (``"42"`` for a number, ``"2026-12-06"`` for a date)."""
    field = f"custom_fields.{definition.key}"
    kind = definition.type
    if kind == FieldType.TEXT:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise FieldProblem(field, "must be text")
        text = str(value).strip()
        if len(text) > MAX_TEXT:
            raise FieldProblem(field, f"longer than {MAX_TEXT} characters")
        return text
    if kind == FieldType.NUMBER:
        return _number(field, value)
    if kind == FieldType.DATE:
        if isinstance(value, date):
            return value.isoformat()
        if not isinstance(value, str):
            raise FieldProblem(field, "must be a date (YYYY-MM-DD)")
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            raise FieldProblem(field, "must be a date (YYYY-MM-DD)") from None
    if kind == FieldType.CHOICE:
        choice = str(value).strip() if isinstance(value, str | int) else None
        if choice is None or choice not in definition.choices:
            raise FieldProblem(field, f"must be one of: {', '.join(definition.choices)}")
        return choice
    raise FieldProblem(field, f"unknown field type {kind!r}")


def _number(field: str, value: Any) -> int | float:
    if isinstance(value, bool):
        raise FieldProblem(field, "must be a number")
    if isinstance(value, int | float):
        number: int | float = value
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        try:
            number = int(text) if text.lstrip("+-").isdigit() else float(text)
        except ValueError:
            raise FieldProblem(field, "must be a number") from None
    else:
        raise FieldProblem(field, "must be a number")
    if isinstance(number, float) and not math.isfinite(number):
        raise FieldProblem(field, "must be a finite number")
    if isinstance(number, int) and abs(number) > 2**53:
        raise FieldProblem(field, "too large")
    return number


def check_choices(kind: str, choices: Sequence[str]) -> list[str]:
    """A definition's choices, cleaned: a choice field needs at least one, others none."""
    cleaned = list(dict.fromkeys(c.strip() for c in choices if c.strip()))
    if kind == FieldType.CHOICE and not cleaned:
        raise FieldProblem("choices", "a choice field needs at least one choice")
    if kind != FieldType.CHOICE and cleaned:
        raise FieldProblem("choices", "only choice fields have choices")
    return cleaned
