"""A successful login's outcome: a login session and its first token pair.

Shared by ``POST /api/v1/auth/login`` and by code that logs a person in right after creating
their account (self-service sign-up in ``tenants/``), so both hand out the same tokens.
"""

from __future__ import annotations

import uuid

from fastapi import Request
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from kernel._identity import sessions
from kernel._identity.audit import source_address
from kernel._identity.tokens import AccessClaims
from kernel._platform import Platform


class TokenPair(BaseModel):
    """What a login answers: a short-lived access token and a rotating refresh token."""

    access_token: str
    refresh_token: str
    token_type: str = "Bearer"  # noqa: S105 (the scheme name, not a secret)
    expires_in: int = Field(description="Seconds the access token stays valid.")


async def issue_token_pair(
    platform: Platform,
    *,
    subject: uuid.UUID,
    tenant_id: uuid.UUID | None,
    session_id: uuid.UUID,
    refresh_token: str,
) -> TokenPair:
    """Sign an access token for ``subject`` in login session ``session_id``."""
    signer = await platform.identity.signer()
    claims = AccessClaims(
        subject=subject,
        kind="user" if tenant_id is not None else "operator",
        tenant_id=tenant_id,
        session_id=session_id,
    )
    return TokenPair(
        access_token=signer.issue(claims),
        refresh_token=refresh_token,
        expires_in=signer.ttl_seconds,
    )


async def open_login_session(
    platform: Platform,
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    tenant_id: uuid.UUID | None,
    request: Request | None = None,
) -> TokenPair:
    """Start a login session for a tenant user (``tenant_id``) or an operator (None), commit
    ``session`` (with whatever the caller added to it, such as the account itself and its
    audit record) and hand out the first token pair.

    Run it in the tenant's scope (:func:`kernel.tenant_scope`) for a tenant user.
    """
    session_id, refresh = await sessions.open_session(
        session,
        owner_id=user_id,
        tenant_id=tenant_id,
        ttl_seconds=platform.settings.refresh_token_ttl_seconds,
        address=source_address(request),
    )
    await session.commit()
    return await issue_token_pair(
        platform,
        subject=user_id,
        tenant_id=tenant_id,
        session_id=session_id,
        refresh_token=refresh.value,
    )
