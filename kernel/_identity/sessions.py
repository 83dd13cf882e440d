"""Login sessions and their rotating refresh tokens (tenant users and operators alike).

A refresh token is used once: using it marks it used and issues the next one in the same
session (its family). Presenting a used token again means it leaked: the whole session is
revoked, so neither the thief nor the owner can continue without logging in again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kernel._identity.models import (
    AuthSession,
    OperatorRefreshToken,
    OperatorSession,
    RefreshToken,
)
from kernel._identity.tokens import REFRESH_PREFIX, OpaqueToken, new_opaque
from kernel._models import utcnow

REUSE = "refresh_token_reuse"


@dataclass(frozen=True)
class SessionTables:
    session: Any
    token: Any
    owner_column: str


USER_SESSIONS = SessionTables(AuthSession, RefreshToken, "user_id")
OPERATOR_SESSIONS = SessionTables(OperatorSession, OperatorRefreshToken, "operator_id")


def tables_for(tenant_id: uuid.UUID | None) -> SessionTables:
    return OPERATOR_SESSIONS if tenant_id is None else USER_SESSIONS


async def open_session(
    db: AsyncSession,
    *,
    owner_id: uuid.UUID,
    tenant_id: uuid.UUID | None,
    ttl_seconds: int,
    address: str | None,
) -> tuple[uuid.UUID, OpaqueToken]:
    """Start a login session; returns its id and its first refresh token."""
    tables = tables_for(tenant_id)
    login = tables.session(
        id=uuid.uuid4(),
        expires_at=utcnow() + timedelta(seconds=ttl_seconds),
        source_address=address,
        **{tables.owner_column: owner_id},
    )
    db.add(login)
    token = new_opaque(REFRESH_PREFIX, tenant_id)
    db.add(tables.token(session_id=login.id, token_hash=token.hash))
    return login.id, token


@dataclass(frozen=True)
class Rotation:
    """Outcome of presenting a refresh token."""

    owner_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None
    new_token: OpaqueToken | None = None
    failure: str | None = None


async def rotate(db: AsyncSession, presented: OpaqueToken) -> Rotation:
    """Swap ``presented`` for a new token in the same session, or say why not."""
    tables = tables_for(presented.tenant_id)
    row = (
        await db.execute(
            select(tables.token, tables.session)
            .join(tables.session, tables.session.id == tables.token.session_id)
            .where(tables.token.token_hash == presented.hash)
        )
    ).one_or_none()
    if row is None:
        return Rotation(failure="unknown")
    token, login = row
    owner_id = getattr(login, tables.owner_column)
    if login.revoked_at is not None or login.expires_at <= utcnow():
        return Rotation(owner_id=owner_id, session_id=login.id, failure="ended")
    # Claim the token atomically: of two concurrent uses, exactly one wins.
    claimed = await db.execute(
        update(tables.token)
        .where(tables.token.id == token.id, tables.token.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        await revoke(db, presented.tenant_id, login.id, REUSE)
        return Rotation(owner_id=owner_id, session_id=login.id, failure=REUSE)
    new_token = new_opaque(REFRESH_PREFIX, presented.tenant_id)
    db.add(tables.token(session_id=login.id, token_hash=new_token.hash))
    return Rotation(owner_id=owner_id, session_id=login.id, new_token=new_token)


async def find_session(db: AsyncSession, presented: OpaqueToken) -> Any | None:
    tables = tables_for(presented.tenant_id)
    return await db.scalar(
        select(tables.session)
        .join(tables.token, tables.session.id == tables.token.session_id)
        .where(tables.token.token_hash == presented.hash)
    )


async def revoke(
    db: AsyncSession, tenant_id: uuid.UUID | None, session_id: uuid.UUID, reason: str
) -> None:
    tables = tables_for(tenant_id)
    await db.execute(
        update(tables.session)
        .where(tables.session.id == session_id, tables.session.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )


async def revoke_all_for(db: AsyncSession, user_id: uuid.UUID, reason: str) -> None:
    """End every session of a tenant user (deactivation, password change)."""
    await db.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )
