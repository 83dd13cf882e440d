"""Values the database cannot hold are refused before they are sent, the same way on SQLite
and PostgreSQL, and whatever the database still refuses as data becomes the same error.

PostgreSQL refuses a NUL character in any text, an unpaired UTF-16 surrogate, an integer
beyond its column's type (``int4``, even in a ``WHERE``), text longer than a
``VARCHAR(n)`` and, in JSON, NUL, unpaired surrogates and non-finite numbers; SQLite stores
most of these silently (or raises ``OverflowError`` past 64 bits). Left alone, each is a 500
on PostgreSQL and a silent difference on SQLite.

One engine listener (:func:`install_storage_guard`) checks every bound parameter of every
statement against its SQL type before the statement is sent: ORM flushes, Core
``insert``/``update``, ``WHERE`` clauses, for the kernel and every plugin alike. It raises
:class:`UnstorableValueError`, which the app answers as ``422 /problems/unstorable-value``
(naming the column). As a safety net, a "data exception" the database raises anyway
(SQLSTATE class 22, or the driver refusing to encode a value) is re-raised as the same error.
Non-finite floats are refused even where PostgreSQL's ``float8`` would keep them: no JSON
answer could carry them back.
"""

from __future__ import annotations

import logging
import math
import re
import uuid
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import event
from sqlalchemy.engine import Connection, ExceptionContext, ExecutionContext
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.types import (
    BigInteger,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    TypeDecorator,
    TypeEngine,
)

logger = logging.getLogger("kraliki.db")

Reason = Literal[
    "nul-character",
    "lone-surrogate",
    "non-finite-number",
    "out-of-range",
    "too-long",
    "refused-by-database",
]

BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
"""What no text column holds: NUL, and UTF-16 surrogates (in a ``str`` they are always
unpaired: a pair is one code point)."""

REPLACEMENT = "\ufffd"
INT16 = (-(2**15), 2**15 - 1)
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
_MAX_WALK = 100_000
"""Items of one JSON value looked at (deeper documents are the request guard's to refuse)."""


class UnstorableValueError(ValueError):
    """A value cannot be stored (or compared) as it is: ``field`` names the column (or the
    bound parameter) when known, ``reason`` says why. Never carries the value itself."""

    def __init__(self, reason: Reason, field: str | None = None, detail: str = "") -> None:
        self.reason = reason
        self.field = field
        self.detail = detail or _DESCRIPTIONS[reason]
        where = f"{field}: " if field else ""
        super().__init__(where + self.detail)


_DESCRIPTIONS: dict[Reason, str] = {
    "nul-character": "text cannot contain NUL characters (U+0000)",
    "lone-surrogate": "text cannot contain unpaired UTF-16 surrogates",
    "non-finite-number": "numbers must be finite (no NaN or Infinity)",
    "out-of-range": "the number is out of range",
    "too-long": "the text is too long",
    "refused-by-database": "the database refused a value",
}


def text_issue(value: str) -> Reason | None:
    """Why ``value`` cannot be stored as text, or None."""
    found = BAD_TEXT.search(value)
    if found is None:
        return None
    return "nul-character" if found.group() == "\x00" else "lone-surrogate"


def storable_text(value: str) -> str:
    """``value`` with NUL characters and unpaired surrogates replaced by U+FFFD."""
    return BAD_TEXT.sub(REPLACEMENT, value)


def storable_json(value: Any) -> Any:
    """A copy of a JSON-like value that every database can store: text through
    :func:`storable_text` (keys too), non-finite numbers as the strings ``"NaN"``,
    ``"Infinity"``, ``"-Infinity"`` (what they were stays readable)."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {storable_json(k): storable_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable_json(item) for item in value]
    return value


def json_issue(value: Any) -> Reason | None:
    """Why a JSON-like value cannot be stored in a JSON column, or None (iterative: a deeply
    nested value does not exhaust the stack)."""
    for item in _walk(value):
        if isinstance(item, str):
            issue = text_issue(item)
            if issue:
                return issue
        elif isinstance(item, float) and not math.isfinite(item):
            return "non-finite-number"
    return None


def _walk(value: Any) -> Iterator[Any]:
    stack = [value]
    seen = 0
    while stack and seen < _MAX_WALK:
        item = stack.pop()
        seen += 1
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        else:
            yield item


# --- the engine listener -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Slot:
    """What a bound parameter's SQL type allows."""

    field: str
    int_range: tuple[int, int] | None = None
    max_length: int | None = None
    binary: bool = False


_NO_RULES = _Slot("")
_OPAQUE = frozenset({type(None), bool, bytes, uuid.UUID, datetime, date, time, timedelta, Decimal})
"""Values no check applies to (skipped at the cost of one set lookup)."""
_checked: weakref.WeakSet[ExecutionContext] = weakref.WeakSet()
_slots_by_statement: weakref.WeakKeyDictionary[SQLCompiler, dict[str, _Slot]] = (
    weakref.WeakKeyDictionary()
)


def install_storage_guard(engine: AsyncEngine) -> None:
    """Check every statement's parameters before it is sent, and translate data errors."""
    event.listen(engine.sync_engine, "before_cursor_execute", _check_parameters)
    event.listen(engine.sync_engine, "handle_error", _translate_data_error)


def _check_parameters(
    _conn: Connection,
    _cursor: Any,
    statement: str,
    parameters: Any,
    context: ExecutionContext | None,
    _executemany: bool,
) -> None:
    compiled = getattr(context, "compiled", None)
    if context is None or not isinstance(compiled, SQLCompiler) or context in _checked:
        return  # DDL or a plain string (nothing typed), or a later batch of a checked insert
    _checked.add(context)
    slots = _slots_by_statement.get(compiled)
    if slots is None:
        slots = _slots_by_statement[compiled] = _slots(compiled)
    for row in getattr(context, "compiled_parameters", None) or ():
        for name, value in row.items():
            if type(value) not in _OPAQUE:
                _check(slots.get(name) or _expanded(slots, name), name, value)


def _slots(compiled: SQLCompiler) -> dict[str, _Slot]:
    return {name: _rules(name, bind) for name, bind in compiled.binds.items()}


def _rules(name: str, bind: BindParameter[Any]) -> _Slot:
    sql_type: TypeEngine[Any] = bind.type
    if isinstance(sql_type, TypeDecorator):
        # Its Python value is not what is stored: only the checks every value gets apply.
        return _Slot(name, binary=isinstance(sql_type.impl_instance, LargeBinary))
    # A value written into a column (INSERT values, UPDATE SET) must fit it; one compared in
    # a WHERE only needs to be sendable (PostgreSQL compares longer text without error).
    written = bool(getattr(bind, "_is_crud", False))
    field = name if written else re.sub(r"_\d+$", "", name)
    if isinstance(sql_type, Integer):
        if isinstance(sql_type, SmallInteger):
            return _Slot(field, int_range=INT16)
        if isinstance(sql_type, BigInteger):
            return _Slot(field, int_range=INT64)
        return _Slot(field, int_range=INT32)
    if isinstance(sql_type, String):
        return _Slot(field, max_length=sql_type.length if written else None)
    if isinstance(sql_type, LargeBinary):
        return _Slot(field, binary=True)
    return _Slot(field)


def _expanded(slots: dict[str, _Slot], name: str) -> _Slot:
    # An expanded IN list sends name_1, name_2, ... for the bind "name".
    return slots.get(name.rpartition("_")[0], _NO_RULES)


def _check(slot: _Slot, name: str, value: Any) -> None:
    field = slot.field or name
    if isinstance(value, str):
        issue = text_issue(value)
        if issue:
            raise UnstorableValueError(issue, field)
        if slot.max_length is not None and len(value) > slot.max_length:
            raise UnstorableValueError(
                "too-long", field, f"at most {slot.max_length} characters are stored"
            )
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if slot.int_range is not None:
            low, high = slot.int_range
            if not low <= value <= high:
                raise UnstorableValueError(
                    "out-of-range", field, f"the number must be between {low} and {high}"
                )
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise UnstorableValueError("non-finite-number", field)
    elif isinstance(value, dict | list | tuple) and not slot.binary:
        issue = json_issue(value)
        if issue:
            raise UnstorableValueError(issue, field)


# --- the safety net ------------------------------------------------------------------------


def _translate_data_error(context: ExceptionContext) -> BaseException | None:
    """Re-raise what the database or its driver refused as data as UnstorableValueError."""
    original = context.original_exception
    if isinstance(original, UnstorableValueError):
        return None  # raised by the check above: already the right error
    reason: Reason | None = None
    if isinstance(original, OverflowError):  # sqlite3: an int beyond 64 bits
        reason = "out-of-range"
    elif isinstance(original, UnicodeEncodeError):  # sqlite3: an unpaired surrogate
        reason = "lone-surrogate"
    elif _sqlstate(original).startswith("22") or _is_data_error(context):
        reason = "refused-by-database"
    if reason is None:
        return None
    # The driver's message can quote the value; it goes to the log, not to the client.
    logger.warning("the database refused a value: %s", str(original).splitlines()[0][:300])
    return UnstorableValueError(reason)


def _sqlstate(error: BaseException) -> str:
    code = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    return code if isinstance(code, str) else ""


def _is_data_error(context: ExceptionContext) -> bool:
    from sqlalchemy.exc import DataError

    return isinstance(context.sqlalchemy_exception, DataError)
