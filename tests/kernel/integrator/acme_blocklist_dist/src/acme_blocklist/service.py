"""Blocklist logic: no HTTP here, explicit session, keyword arguments."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from acme_blocklist.models import BlockedNumber
from kernel import ProblemError, define_problem

ALREADY_BLOCKED = define_problem(
    "acme-blocklist-already-blocked",
    "Number already blocked",
    409,
    "The number is on the blocklist already.",
)


async def block(session: AsyncSession, *, number: str, reason: str) -> BlockedNumber:
    entry = BlockedNumber(number=number, reason=reason)
    session.add(entry)
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise ProblemError(ALREADY_BLOCKED, f"{number} is already blocked") from exc
    return entry
