"""Reading one row by id (tenant-owned tables key on ``(tenant_id, id)``; the session's
tenant criteria supply the tenant)."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


async def row(session: AsyncSession, model: type[T], row_id: uuid.UUID | None) -> T | None:
    if row_id is None:
        return None
    column: Any = model.id  # type: ignore[attr-defined]
    found: T | None = await session.scalar(select(model).where(column == row_id))
    return found
