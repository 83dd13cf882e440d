"""The contact filter: which contacts a segment (or a list query) means, as data.

``ContactFilter`` is plain JSON (segments store it); :func:`where` turns it into SQLAlchemy
conditions on :class:`Contact` that mean the same on SQLite and PostgreSQL. Criteria are
ANDed; an unset criterion (``None`` or an empty list) matches everything. Tags and numbers
are tested with ``EXISTS`` on their own tables (their indexes lead with ``tenant_id``), so a
filter never loads a contact's tags or numbers. Merged and erased contacts never match.

:func:`where` needs no database and no field definitions: how a custom field is compared
follows from the condition's value (a JSON number compares as a number, a string as
text). :func:`validate_filter` checks, against the tenant's field definitions, that the
conditions fit their fields, before a filter is saved or run from a request.
"""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)
from sqlalchemy import (
    BindParameter,
    ClauseElement,
    ColumnElement,
    Float,
    String,
    and_,
    bindparam,
    exists,
    func,
    not_,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from kernel import ProblemError
from plugins.contacts.models import Contact, ContactPhone, ContactTag, FieldDefinition, FieldType
from plugins.contacts.phones import search_digits
from plugins.contacts.problems import located
from plugins.contacts.segments.problems import FILTER_INVALID, FILTER_UNKNOWN_FIELDS

MAX_LIST = 200
"""Items in any one list criterion (tags, countries, dispositions, ``in`` values)."""
MAX_CONDITIONS = 50
MAX_INT = 2**31 - 1
"""The largest count a column holds (32-bit)."""

Tag = Annotated[str, Field(min_length=1, max_length=64)]
Code = Annotated[str, Field(min_length=1, max_length=64)]
Scalar = Annotated[StrictStr, Field(max_length=500)] | StrictInt | StrictFloat


class FieldOp(enum.StrEnum):
    EQ = "eq"
    NE = "ne"
    IN = "in"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    CONTAINS = "contains"
    EMPTY = "empty"
    NOT_EMPTY = "not_empty"


ORDERED_OPS = frozenset({FieldOp.GT, FieldOp.GTE, FieldOp.LT, FieldOp.LTE})
VALUELESS_OPS = frozenset({FieldOp.EMPTY, FieldOp.NOT_EMPTY})

OPS_BY_TYPE: dict[str, frozenset[FieldOp]] = {
    FieldType.TEXT: frozenset(
        {FieldOp.EQ, FieldOp.NE, FieldOp.IN, FieldOp.CONTAINS, *VALUELESS_OPS}
    ),
    FieldType.CHOICE: frozenset({FieldOp.EQ, FieldOp.NE, FieldOp.IN, *VALUELESS_OPS}),
    FieldType.NUMBER: frozenset({FieldOp.EQ, FieldOp.NE, FieldOp.IN, *ORDERED_OPS, *VALUELESS_OPS}),
    FieldType.DATE: frozenset({FieldOp.EQ, FieldOp.NE, FieldOp.IN, *ORDERED_OPS, *VALUELESS_OPS}),
}
"""What each custom field type can be asked."""


class FieldCondition(BaseModel):
    """One condition on a custom field: ``{"field": "plan", "op": "in", "value": ["gold"]}``.

    Text compares case-insensitively; ``ne`` also matches contacts without a value;
    ``empty`` means no value (missing, null or ``""``). Dates are ``YYYY-MM-DD`` strings.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = Field(min_length=1, max_length=64, pattern=r'^[^"\\]+$')
    op: FieldOp
    value: Scalar | list[Scalar] | None = None

    @model_validator(mode="after")
    def _value_fits_op(self) -> FieldCondition:
        if self.op in VALUELESS_OPS:
            if self.value is not None:
                raise ValueError(f"{self.op.value!r} takes no value")
        elif self.op is FieldOp.IN:
            if not isinstance(self.value, list) or not 1 <= len(self.value) <= MAX_LIST:
                raise ValueError(f"'in' takes a list of 1 to {MAX_LIST} values")
            kinds = {isinstance(v, str) for v in self.value}
            if len(kinds) > 1:
                raise ValueError("'in' values are all numbers or all text")
        elif self.value is None or isinstance(self.value, list):
            raise ValueError(f"{self.op.value!r} takes one value")
        elif self.op is FieldOp.CONTAINS and not isinstance(self.value, str):
            raise ValueError("'contains' takes text")
        return self


class ContactFilter(BaseModel):
    """Which contacts: every criterion set must hold (unset ones match everything).

    Time bounds are half-open: ``*_after`` includes the instant, ``*_before`` excludes it.
    Naive datetimes are read as UTC.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    tags_any: list[Tag] = Field(default_factory=list, max_length=MAX_LIST)
    """At least one of these tags."""
    tags_all: list[Tag] = Field(default_factory=list, max_length=MAX_LIST)
    """Every one of these tags."""
    tags_none: list[Tag] = Field(default_factory=list, max_length=MAX_LIST)
    """None of these tags."""
    q: str | None = Field(default=None, max_length=200)
    """Text search over name, company, e-mails and numbers (digits), case-insensitive."""
    fields: list[FieldCondition] = Field(default_factory=list, max_length=MAX_CONDITIONS)
    """Conditions on custom fields."""
    country: list[Annotated[str, Field(pattern=r"^[A-Za-z]{2}$")]] = Field(
        default_factory=list, max_length=MAX_LIST
    )
    """ISO 3166-1 alpha-2 codes of the contact's address."""
    region: list[Annotated[str, Field(pattern=r"^([A-Za-z]{2}-)?[A-Za-z0-9]{1,3}$")]] = Field(
        default_factory=list, max_length=MAX_LIST
    )
    """Subdivisions of the address: ``US-CA`` (country and region) or ``CA`` (any country)."""
    owner_id: uuid.UUID | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    last_call_after: datetime | None = None
    last_call_before: datetime | None = None
    not_called_in_days: int | None = Field(default=None, ge=1, le=36500)
    """Never called, or not since this many days before now."""
    never_called: bool | None = None
    """True: never called; false: called at least once."""
    last_disposition_in: list[Code] = Field(default_factory=list, max_length=MAX_LIST)
    last_call_status_in: list[Code] = Field(default_factory=list, max_length=MAX_LIST)
    call_count_gte: int | None = Field(default=None, ge=0, le=MAX_INT)
    call_count_lte: int | None = Field(default=None, ge=0, le=MAX_INT)
    has_number: bool | None = None
    number_region_in: list[Annotated[str, Field(pattern=r"^[A-Za-z]{2}$")]] = Field(
        default_factory=list, max_length=MAX_LIST
    )
    """Regions (ISO alpha-2) of at least one of the contact's numbers."""

    @field_validator(
        "created_after",
        "created_before",
        "updated_after",
        "updated_before",
        "last_call_after",
        "last_call_before",
    )
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("the time is out of range in UTC") from None

    @field_validator("country", "number_region_in")
    @classmethod
    def _upper(cls, values: list[str]) -> list[str]:
        return [v.upper() for v in values]

    @field_validator("tags_any", "tags_all", "tags_none")
    @classmethod
    def _tags(cls, values: list[str]) -> list[str]:
        """Tags are kept trimmed and lower-cased; so are the ones asked for."""
        tags = [v.strip().lower() for v in values]
        if not all(tags):
            raise ValueError("a tag is not blank")
        return list(dict.fromkeys(tags))

    @field_validator("region")
    @classmethod
    def _upper_regions(cls, values: list[str]) -> list[str]:
        return [v.upper() for v in values]

    def to_json(self) -> dict[str, Any]:
        """The filter as stored: only the criteria that are set."""
        return self.model_dump(mode="json", exclude_defaults=True)


# --- custom field values -----------------------------------------------------------------


class _JsonNumber(FunctionElement[float]):
    """A custom field's value as a number, or NULL when it holds anything else (a filter
    must not fail on one contact whose value predates its field's type)."""

    type = Float()
    name = "json_number"
    inherit_cache = True


@compiles(_JsonNumber)  # SQLite, and str() of a statement
@compiles(_JsonNumber, "sqlite")
def _json_number_sqlite(element: _JsonNumber, compiler: SQLCompiler, **kw: Any) -> str:
    field, key = element.clauses
    path = _path(compiler, key, **kw)
    column = compiler.process(field, **kw)
    return (
        f"CASE WHEN json_type({column}, {path}) IN ('integer', 'real') "
        f"THEN json_extract({column}, {path}) END"
    )


@compiles(_JsonNumber, "postgresql")
def _json_number_postgresql(element: _JsonNumber, compiler: SQLCompiler, **kw: Any) -> str:
    column, key = (compiler.process(clause, **kw) for clause in element.clauses)
    return (
        f"CASE WHEN json_typeof({column} -> {key}) = 'number' "
        f"THEN CAST({column} ->> {key} AS DOUBLE PRECISION) END"
    )


class _JsonText(FunctionElement[str]):
    """A custom field's value as lower-cased text (numbers as their text), or NULL."""

    type = String()
    name = "json_text"
    inherit_cache = True


@compiles(_JsonText)  # SQLite, and str() of a statement
@compiles(_JsonText, "sqlite")
def _json_text_sqlite(element: _JsonText, compiler: SQLCompiler, **kw: Any) -> str:
    field, key = element.clauses
    path = _path(compiler, key, **kw)
    column = compiler.process(field, **kw)
    return (
        f"CASE WHEN json_type({column}, {path}) IN ('text', 'integer', 'real') "
        f"THEN lower(CAST(json_extract({column}, {path}) AS TEXT)) END"
    )


@compiles(_JsonText, "postgresql")
def _json_text_postgresql(element: _JsonText, compiler: SQLCompiler, **kw: Any) -> str:
    column, key = (compiler.process(clause, **kw) for clause in element.clauses)
    return (
        f"CASE WHEN json_typeof({column} -> {key}) IN ('string', 'number') "
        f"THEN lower({column} ->> {key}) END"
    )


def _key(key: str) -> BindParameter[str]:
    return bindparam(None, key, type_=String())


def _path(compiler: SQLCompiler, key: ClauseElement, **kw: Any) -> str:
    """SQLite's JSON path of a key, built in SQL from the bound key (so the statement
    caches; keys hold no double quotes, :class:`FieldCondition` sees to that)."""
    return "'$.\"' || " + compiler.process(key, **kw) + " || '\"'"


def _number(key: str) -> ColumnElement[float]:
    return _JsonNumber(Contact.custom_fields, _key(key))


def _text(key: str) -> ColumnElement[str]:
    return _JsonText(Contact.custom_fields, _key(key))


def _field_condition(condition: FieldCondition) -> ColumnElement[bool]:
    key, op, value = condition.field, condition.op, condition.value
    if op in VALUELESS_OPS:
        text = _text(key)
        empty = or_(text.is_(None), text == "")
        return empty if op is FieldOp.EMPTY else not_(empty)
    sample = value[0] if isinstance(value, list) else value
    numeric = not isinstance(sample, str)
    expr: ColumnElement[Any] = _number(key) if numeric else _text(key)

    def norm(v: Any) -> Any:
        # Text is lower-cased by the database on both sides, so that both sides fold case
        # alike (SQLite's lower() folds ASCII letters only).
        return float(v) if numeric else func.lower(bindparam(None, str(v), type_=String()))

    if op is FieldOp.IN:
        assert isinstance(value, list)
        return expr.in_([norm(v) for v in value])
    if op is FieldOp.CONTAINS:
        escaped = str(value).replace("/", "//").replace("%", "/%").replace("_", "/_")
        return expr.like(func.lower(bindparam(None, f"%{escaped}%", type_=String())), escape="/")
    target = norm(value)
    if op is FieldOp.NE:
        return or_(expr.is_(None), expr != target)
    comparison: ColumnElement[bool] = {
        FieldOp.EQ: expr == target,
        FieldOp.GT: expr > target,
        FieldOp.GTE: expr >= target,
        FieldOp.LT: expr < target,
        FieldOp.LTE: expr <= target,
    }[op]
    return comparison


# --- the whole filter --------------------------------------------------------------------

_PHONEISH = re.compile(r"^[+(]?[\d()+\-. /]*\d[\d()\-. /]*$")


def _tag_exists(tags: Sequence[str]) -> ColumnElement[bool]:
    return exists(
        select(ContactTag.contact_id).where(
            ContactTag.tenant_id == Contact.tenant_id,
            ContactTag.contact_id == Contact.id,
            ContactTag.tag.in_(list(tags)) if len(tags) > 1 else ContactTag.tag == tags[0],
        )
    )


def _phone_exists(*criteria: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists(
        select(ContactPhone.id).where(
            ContactPhone.tenant_id == Contact.tenant_id,
            ContactPhone.contact_id == Contact.id,
            *criteria,
        )
    )


def _text_search(q: str) -> list[ColumnElement[bool]]:
    """Every word of ``q`` a case-insensitive substring of ``search_text`` (which holds
    lower-cased name, company and e-mails, and numbers as digits); a word that looks like a
    number is searched by its digits (``+1 (415) 555`` finds ``14155550100``)."""
    needles = [search_digits(w) if _PHONEISH.match(w) else w for w in q.lower().split()]
    return [Contact.search_text.contains(n, autoescape=True) for n in needles if n]


def _region(entry: str) -> ColumnElement[bool]:
    country, _, region = entry.rpartition("-")
    if country:
        return and_(Contact.country == country, Contact.region == region)
    return Contact.region == region


def visible() -> list[ColumnElement[bool]]:
    """What every filter adds: merged and erased contacts are history, not contacts."""
    return [Contact.merged_into_id.is_(None), Contact.erased_at.is_(None)]


def where(
    contact_filter: ContactFilter, *, now: datetime | None = None
) -> list[ColumnElement[bool]]:
    """The conditions on :class:`Contact` that ``contact_filter`` means (AND them).

    ``now`` anchors relative criteria (``not_called_in_days``); it defaults to the clock.
    """
    f = contact_filter
    conditions = visible()
    if f.tags_any:
        conditions.append(_tag_exists(f.tags_any))
    conditions.extend(_tag_exists([tag]) for tag in dict.fromkeys(f.tags_all))
    if f.tags_none:
        conditions.append(not_(_tag_exists(f.tags_none)))
    if f.q is not None:
        conditions.extend(_text_search(f.q))
    conditions.extend(_field_condition(c) for c in f.fields)
    if f.country:
        conditions.append(Contact.country.in_(f.country))
    if f.region:
        conditions.append(or_(*(_region(entry) for entry in f.region)))
    if f.owner_id is not None:
        conditions.append(Contact.owner_id == f.owner_id)
    bounds = (
        (Contact.created_at, f.created_after, f.created_before),
        (Contact.updated_at, f.updated_after, f.updated_before),
        (Contact.last_call_at, f.last_call_after, f.last_call_before),
    )
    for column, after, before in bounds:
        if after is not None:
            conditions.append(column >= after)
        if before is not None:
            conditions.append(column < before)
    if f.not_called_in_days is not None:
        since = (now or datetime.now(UTC)) - timedelta(days=f.not_called_in_days)
        conditions.append(or_(Contact.last_call_at.is_(None), Contact.last_call_at < since))
    if f.never_called is not None:
        called = Contact.last_call_at.is_not(None)
        conditions.append(not_(called) if f.never_called else called)
    if f.last_disposition_in:
        conditions.append(Contact.last_disposition.in_(f.last_disposition_in))
    if f.last_call_status_in:
        conditions.append(Contact.last_call_status.in_(f.last_call_status_in))
    if f.call_count_gte is not None:
        conditions.append(Contact.call_count >= f.call_count_gte)
    if f.call_count_lte is not None:
        conditions.append(Contact.call_count <= f.call_count_lte)
    if f.has_number is not None:
        conditions.append(_phone_exists() if f.has_number else not_(_phone_exists()))
    if f.number_region_in:
        conditions.append(_phone_exists(ContactPhone.number_region.in_(f.number_region_in)))
    return conditions


def matches_nothing(contact_filter: ContactFilter) -> bool:
    """Whether the filter contradicts itself in a way visible without the database
    (``call_count_gte`` above ``call_count_lte``); callers may skip the query."""
    f = contact_filter
    return (
        f.call_count_gte is not None
        and f.call_count_lte is not None
        and f.call_count_gte > f.call_count_lte
    )


# --- validation against the tenant's fields ---------------------------------------------


def _problem(condition: FieldCondition, message: str) -> dict[str, str]:
    return {"field": condition.field, "op": condition.op.value, "message": message}


def _value_error(condition: FieldCondition, definition: FieldDefinition) -> str | None:
    values = condition.value if isinstance(condition.value, list) else [condition.value]
    if condition.op in VALUELESS_OPS:
        return None
    kind = definition.type
    if kind == FieldType.NUMBER:
        if any(isinstance(v, str) for v in values):
            return "a number field compares with numbers"
    elif any(not isinstance(v, str) for v in values):
        return f"a {kind} field compares with text"
    elif kind == FieldType.DATE:
        for v in values:
            try:
                date.fromisoformat(str(v))
            except ValueError:
                return "dates are written YYYY-MM-DD"
            if len(str(v)) != len("YYYY-MM-DD"):
                return "dates are written YYYY-MM-DD"
    elif kind == FieldType.CHOICE:
        choices = {str(c).lower() for c in definition.choices or []}
        strange = [v for v in values if str(v).lower() not in choices]
        if strange:
            return "not among the field's choices: " + ", ".join(map(str, strange))
    return None


async def validate_filter(session: AsyncSession, contact_filter: ContactFilter) -> None:
    """Check the filter's custom field conditions against the tenant's field definitions:
    a 422 problem naming every unknown field, or every condition that does not fit."""
    keys = sorted({c.field for c in contact_filter.fields})
    if not keys:
        return
    rows = await session.scalars(select(FieldDefinition).where(FieldDefinition.key.in_(keys)))
    definitions = {row.key: row for row in rows}
    unknown = [key for key in keys if key not in definitions]
    if unknown:
        raise ProblemError(
            FILTER_UNKNOWN_FIELDS,
            "unknown custom fields: " + ", ".join(unknown),
            fields=unknown,
        )
    errors: list[dict[str, str]] = []
    for condition in contact_filter.fields:
        definition = definitions[condition.field]
        allowed = OPS_BY_TYPE.get(definition.type, frozenset())
        if condition.op not in allowed:
            ops = ", ".join(sorted(op.value for op in allowed))
            errors.append(_problem(condition, f"a {definition.type} field takes only: {ops}"))
            continue
        message = _value_error(condition, definition)
        if message is not None:
            errors.append(_problem(condition, message))
    if errors:
        raise ProblemError(
            FILTER_INVALID,
            f"{len(errors)} field condition(s) do not fit",
            errors=located(errors, "filter"),
        )
