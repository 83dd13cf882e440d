"""Reading the tenant's users from plugins, without handing them the users table."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel._identity.models import User


async def tenant_user_exists(session: AsyncSession, user_id: uuid.UUID) -> bool:
    """Whether ``user_id`` is a user of the tenant in scope (active or not): plugins that
    tie their rows to a person (an agent profile, a team's supervisor) check it first."""
    return await session.scalar(select(User.id).where(User.id == user_id)) is not None


async def tenant_users_missing(
    session: AsyncSession, user_ids: Collection[uuid.UUID]
) -> list[uuid.UUID]:
    """The ids of ``user_ids`` that name no user of the tenant in scope, in the order given
    (one query for a list, e.g. a team's supervisors)."""
    if not user_ids:
        return []
    found = set(await session.scalars(select(User.id).where(User.id.in_(list(user_ids)))))
    return [user_id for user_id in dict.fromkeys(user_ids) if user_id not in found]
