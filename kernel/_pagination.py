"""Keyset (cursor) pagination: stable under inserts, O(page) on any list size."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from kernel._problems import INVALID_CURSOR, ProblemError, raises

T = TypeVar("T")

MAX_PAGE_SIZE = 200


class CursorPage(BaseModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` back as ``cursor`` for the next one."""

    items: list[T]
    next_cursor: str | None = Field(default=None, description="Opaque; absent on the last page.")


class PageParams(BaseModel):
    limit: int = 50
    cursor: str | None = None


@raises(INVALID_CURSOR)
async def page_params(  # async: FastAPI runs a plain function dependency in its thread pool
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page.")] = 50,
    cursor: Annotated[
        str | None, Query(max_length=1024, description="`next_cursor` of the previous page.")
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


PageParamsDep = Annotated[PageParams, Depends(page_params)]


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if value is None or isinstance(value, int | str | float):
        return value
    raise TypeError(f"cannot paginate on a value of type {type(value).__name__}")


def _decode_value(column: InstrumentedAttribute[Any], raw: Any) -> Any:
    python_type = column.type.python_type
    if python_type is datetime:
        return datetime.fromisoformat(raw)
    if python_type is uuid.UUID:
        return uuid.UUID(raw)
    if python_type in (int, float, str) and isinstance(raw, python_type):
        return raw
    raise ValueError("cursor value of the wrong type")


def encode_cursor(keys: Sequence[str], values: Sequence[Any]) -> str:
    payload = json.dumps({"k": list(keys), "v": [_encode_value(v) for v in values]})
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, order_by: Sequence[InstrumentedAttribute[Any]]) -> list[Any]:
    """The key values a cursor points after; a 400 problem for anything else."""
    keys = [column.key for column in order_by]
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if payload["k"] != keys or len(payload["v"]) != len(order_by):
            raise ValueError("cursor belongs to another list")
        return [_decode_value(c, raw) for c, raw in zip(order_by, payload["v"], strict=True)]
    except (ValueError, KeyError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
        raise ProblemError(INVALID_CURSOR) from exc


async def paginate(
    session: AsyncSession,
    statement: Select[Any],
    *,
    order_by: Sequence[InstrumentedAttribute[Any]],
    params: PageParams,
    descending: bool = True,
) -> tuple[list[Any], str | None]:
    """Run ``statement`` one page at a time, ordered by ``order_by`` (unique together).

    Returns the page's scalars and the cursor of the next page (None on the last one). The
    last column should be a unique key (usually ``id``) so ties never skip or repeat rows.
    """
    if params.cursor is not None:
        after = decode_cursor(params.cursor, order_by)
        key = tuple_(*order_by)
        statement = statement.where(key < tuple_(*after) if descending else key > tuple_(*after))
    ordering = [column.desc() if descending else column.asc() for column in order_by]
    rows = list(await session.scalars(statement.order_by(*ordering).limit(params.limit + 1)))
    if len(rows) <= params.limit:
        return rows, None
    rows = rows[: params.limit]
    last = rows[-1]
    next_cursor = encode_cursor([c.key for c in order_by], [getattr(last, c.key) for c in order_by])
    return rows, next_cursor
