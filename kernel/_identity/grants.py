"""Rules for handing out roles: nobody grants what they do not hold."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel._identity.models import CasbinRule, Role, User
from kernel._identity.rbac import TenantPolicy, builtin_grants, bump_policy_version, role_subject
from kernel._platform import Platform
from kernel._principal import Principal
from kernel._problems import FORBIDDEN, ProblemError, define_problem
from kernel._types import BUILTIN_ROLES

UNKNOWN_ROLE = define_problem(
    "unknown-role", "Unknown role", 422, "A role named in the request does not exist."
)
LAST_OWNER = define_problem(
    "last-owner",
    "The organization needs an owner",
    409,
    "The change would leave the organization without an active owner who can log in.",
)


async def caller_policy(
    platform: Platform, session: AsyncSession, principal: Principal
) -> TenantPolicy:
    """The current policy of the caller's tenant (reloaded if another worker changed it)."""
    assert principal.tenant_id is not None
    return await platform.identity.policies.current(session, principal.tenant_id)


async def role_names(session: AsyncSession) -> set[str]:
    """Every role of the tenant in scope: built-in and custom."""
    custom = await session.scalars(select(Role.name))
    return set(BUILTIN_ROLES) | set(custom)


def role_permissions(platform: Platform, policy: TenantPolicy, role: str) -> set[str]:
    if role in BUILTIN_ROLES:
        return builtin_grants(platform.permissions)[role]
    return policy.role_permissions(role)


async def check_roles_exist(session: AsyncSession, roles: Iterable[str]) -> None:
    known = await role_names(session)
    unknown = sorted(set(roles) - known)
    if unknown:
        raise ProblemError(UNKNOWN_ROLE, f"no such role: {', '.join(unknown)}", roles=unknown)


def check_can_hand_out(
    platform: Platform, policy: TenantPolicy, principal: Principal, roles: Iterable[str]
) -> None:
    """The caller must hold every permission of every role they assign or take away."""
    for role in roles:
        missing = sorted(
            key
            for key in role_permissions(platform, policy, role)
            if not principal.can(*key.split(":", 1))
        )
        if missing:
            raise ProblemError(
                FORBIDDEN,
                f"you cannot assign or remove the role {role!r}: it grants permissions you "
                "do not hold",
                missing_permissions=missing,
            )


def check_can_grant(principal: Principal, keys: Iterable[str]) -> None:
    missing = sorted(key for key in keys if not principal.can(*key.split(":", 1)))
    if missing:
        raise ProblemError(
            FORBIDDEN, "you can grant only permissions you hold", missing_permissions=missing
        )


async def check_owner_remains(
    session: AsyncSession, tenant_id: uuid.UUID, *, losing: uuid.UUID
) -> None:
    """Refuse a change that takes the last owner able to log in away (``losing`` is that
    user).

    Only an active owner with a password counts: an invitee who never accepted (no password
    yet, and maybe never will) cannot sign in to run the organization.

    Concurrent changes must not both pass (two owners demoting each other at once): the
    tenant row is locked first (the policy-version bump is an UPDATE, held until commit), then
    the owners are read from the database, not from a cache, so the second change sees the
    first one's result.
    """
    await bump_policy_version(session, tenant_id)
    subjects = await session.scalars(
        select(CasbinRule.v0).where(CasbinRule.ptype == "g", CasbinRule.v1 == role_subject("owner"))
    )
    owners = {
        uuid.UUID(subject.removeprefix("user:"))
        for subject in subjects
        if subject is not None and subject.startswith("user:")
    }
    if losing not in owners:
        return
    others = owners - {losing}
    if others:
        active = await session.scalar(
            select(User.id)
            .where(
                User.id.in_(others),
                User.is_active.is_(True),
                User.password_hash.is_not(None),
            )
            .limit(1)
        )
        if active is not None:
            return
    raise ProblemError(LAST_OWNER)
