"""The ledger's payments as CSV (streamed, a page at a time)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import Select, tuple_

from kernel import Platform, tenant_scope
from plugins.payments.currencies import major
from plugins.payments.models import Payment

COLUMNS = [
    "id",
    "created_at",
    "status",
    "amount_minor",
    "amount",
    "currency",
    "refunded_minor",
    "processor",
    "processor_payment_id",
    "capture_path",
    "call_id",
    "contact_id",
    "agent_id",
    "failure_code",
    "failure_reason",
    "description",
    "created_by",
    "settled_at",
]
PAGE = 500


def _text(value: Any) -> str:
    text = "" if value is None else str(value)
    # A cell a spreadsheet would run as a formula is quoted as text (CSV injection).
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def row_of(payment: Payment) -> list[str]:
    return [
        str(payment.id),
        payment.created_at.isoformat(),
        payment.status,
        str(payment.amount),
        major(payment.amount, payment.currency),
        payment.currency,
        str(payment.refunded_amount),
        payment.processor,
        _text(payment.processor_payment_id),
        payment.capture_path,
        _text(payment.call_id),
        _text(payment.contact_id),
        _text(payment.agent_id),
        _text(payment.failure_code),
        _text(payment.failure_reason),
        _text(payment.description),
        _text(payment.created_by),
        payment.settled_at.isoformat() if payment.settled_at else "",
    ]


def _take(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


async def payments_csv(
    platform: Platform, *, tenant_id: uuid.UUID, query: Select[Any]
) -> AsyncIterator[str]:
    """Oldest first, every payment the filtered ``query`` selects."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    yield "\ufeff" + _take(buffer)  # a BOM: spreadsheets then read the file as UTF-8
    after: tuple[Any, Any] | None = None
    while True:
        page_query = query.order_by(Payment.created_at, Payment.id).limit(PAGE)
        if after is not None:
            page_query = page_query.where(tuple_(Payment.created_at, Payment.id) > after)
        with tenant_scope(tenant_id):
            async with platform.database.session() as session:
                rows: list[Payment] = list((await session.scalars(page_query)).all())
        if not rows:
            return
        writer.writerows(row_of(row) for row in rows)
        yield _take(buffer)
        after = (rows[-1].created_at, rows[-1].id)
