"""Away reason codes and the presence settings of an organization.

``missed`` is built in (routing puts an agent who let an offer ring out there): it is listed
with the tenant's codes but is not a row, cannot be defined, changed or deleted.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import ProblemError, utcnow
from plugins.agents.models import MISSED, AgentSettingsRow, ReasonCode
from plugins.agents.problems import REASON_CODE_EXISTS, REASON_CODE_NOT_FOUND
from plugins.agents.schemas import ReasonCodeOut

MISSED_OUT = ReasonCodeOut(id=None, code=MISSED, label="Missed a call", active=True, builtin=True)


def code_out(row: ReasonCode) -> ReasonCodeOut:
    return ReasonCodeOut(
        id=row.id, code=row.code, label=row.label, active=row.active, builtin=False
    )


async def list_codes(session: AsyncSession) -> list[ReasonCodeOut]:
    rows = await session.scalars(select(ReasonCode).order_by(ReasonCode.code))
    return [MISSED_OUT, *(code_out(row) for row in rows)]


async def get_code(session: AsyncSession, code_id: uuid.UUID) -> ReasonCode:
    row = await session.scalar(select(ReasonCode).where(ReasonCode.id == code_id))
    if row is None:
        raise ProblemError(REASON_CODE_NOT_FOUND, f"no reason code {code_id}")
    return row


async def create_code(session: AsyncSession, *, code: str, label: str, active: bool) -> ReasonCode:
    exists = await session.scalar(select(ReasonCode.id).where(ReasonCode.code == code))
    if code == MISSED or exists is not None:
        raise ProblemError(REASON_CODE_EXISTS, f"reason code {code!r} exists already")
    row = ReasonCode(id=uuid.uuid4(), code=code, label=label, active=active)
    session.add(row)
    await session.flush()
    return row


async def change_code(
    session: AsyncSession, code_id: uuid.UUID, *, label: str | None, active: bool | None
) -> ReasonCode:
    """Deactivating a code keeps agents away with it as they are; nobody can choose it anew."""
    row = await get_code(session, code_id)
    if label is not None:
        row.label = label
    if active is not None:
        row.active = active
    row.updated_at = utcnow()
    return row


async def delete_code(session: AsyncSession, code_id: uuid.UUID) -> None:
    await session.delete(await get_code(session, code_id))


async def settings(session: AsyncSession) -> AgentSettingsRow:
    row = await session.scalar(select(AgentSettingsRow))
    return row or AgentSettingsRow(default_wrap_up_seconds=30, offer_timeout_seconds=20)


async def change_settings(
    session: AsyncSession, *, default_wrap_up_seconds: int, offer_timeout_seconds: int
) -> AgentSettingsRow:
    row = await session.scalar(select(AgentSettingsRow).with_for_update())
    if row is None:
        row = AgentSettingsRow()
        session.add(row)
    row.default_wrap_up_seconds = default_wrap_up_seconds
    row.offer_timeout_seconds = offer_timeout_seconds
    row.updated_at = utcnow()
    return row
