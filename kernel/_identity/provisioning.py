"""Creating tenant users from code (tenant provisioning, seeding, tests)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel._identity import grants
from kernel._identity.models import User
from kernel._identity.rbac import PolicyWriter, user_subject
from kernel._passwords import hash_password_off_loop
from kernel._tenancy import TenancyError, current_tenant_id


class UserExistsError(ValueError):
    """The tenant already has a user with that e-mail address."""


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    password: str | None,
    roles: Sequence[str],
    display_name: str = "",
) -> User:
    """Add a user with ``roles`` to the tenant in scope and flush; the caller commits.

    ``password=None`` leaves the account without one (an invitation sets it later). Checks
    that the roles exist and the e-mail is free, not who may hand the roles out: callers
    acting for a person check that themselves (``/api/v1/users``).
    """
    tenant_id = current_tenant_id()
    if tenant_id is None:
        raise TenancyError("creating a user needs a tenant scope")
    normalized = email.strip().lower()
    if await session.scalar(select(User.id).where(User.email == normalized)) is not None:
        raise UserExistsError(f"a user with e-mail {normalized!r} already exists")
    await grants.check_roles_exist(session, roles)
    user = User(
        id=uuid.uuid4(),
        email=normalized,
        display_name=display_name,
        password_hash=await hash_password_off_loop(password) if password is not None else None,
    )
    session.add(user)
    await session.flush()
    writer = PolicyWriter(session, tenant_id)
    for role in dict.fromkeys(roles):
        await writer.assign(user_subject(user.id), role)
    await writer.finish()
    return user


async def add_user(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    roles: Sequence[str] = ("agent",),
    display_name: str = "",
) -> uuid.UUID:
    """Add a user with ``roles`` to the tenant in scope; the caller commits.

    For code that acts with no caller to check (provisioning a tenant's first owner, seeds);
    requests go through ``/api/v1/users``, which also checks the caller may hand out the roles.
    """
    user = await create_user(
        session, email=email, password=password, roles=roles, display_name=display_name
    )
    return user.id
