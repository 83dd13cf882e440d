"""Authorization with Casbin: one small, cached enforcer per tenant (design section 4).

Stored (``casbin_rule``, through the async SQLAlchemy adapter, inside the tenant's scope):
custom roles' grants (``p, role:<name>, <tenant>, <resource>, <action>``) and every role
assignment (``g, <subject>, role:<name>, <tenant>``). Built-in roles' grants are not stored:
they come from the permissions plugins declare, so a newly installed plugin's defaults reach
every tenant. Each change bumps ``tenants.policy_version``; every request reads that version
with its credential check, so a worker reloads a tenant's enforcer on the first request after
a change made anywhere.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path

from casbin import FastEnforcer
from casbin_async_sqlalchemy_adapter import Adapter
from casbin_async_sqlalchemy_adapter.adapter import Filter
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kernel._identity.decisions import GrantIndex
from kernel._identity.models import CasbinRule
from kernel._registry import UniqueRegistry
from kernel._tenancy import Tenant
from kernel._types import BUILTIN_ROLES, Permission

MODEL_PATH = str(Path(__file__).with_name("rbac_model.conf"))
ROLE_PREFIX = "role:"


def user_subject(user_id: uuid.UUID | str) -> str:
    return f"user:{user_id}"


def api_key_subject(key_id: uuid.UUID | str) -> str:
    return f"key:{key_id}"


def role_subject(role: str) -> str:
    return f"{ROLE_PREFIX}{role}"


def builtin_grants(permissions: UniqueRegistry[Permission]) -> dict[str, set[str]]:
    """Permission keys of each built-in role, from what plugins declared."""
    grants: dict[str, set[str]] = {role: set() for role in BUILTIN_ROLES}
    for key, _plugin, permission in permissions.items():
        if permission.scope != "tenant":
            continue
        grants["owner"].add(key)
        for role in permission.default_roles:
            grants[role].add(key)
    return grants


def _adapter(session: AsyncSession) -> Adapter:
    # The request's own session: tenant scope, RLS and the caller's transaction apply.
    return Adapter(session.bind, db_class=CasbinRule, db_session=session, filtered=True)


def _filter(ptype: str, tenant: str, field: str) -> Filter:
    rule_filter = Filter()
    # Filter's fields are class-level lists: assign new ones, never append.
    rule_filter.ptype = [ptype]
    setattr(rule_filter, field, [tenant])
    return rule_filter


class TenantPolicy:
    """One tenant's enforcer at one policy version.

    Decisions come from a :class:`GrantIndex` built from the rules casbin loaded (casbin's
    own ``enforce`` costs 70 to several hundred microseconds per first decision); role and
    member listings come from the enforcer.
    """

    def __init__(self, tenant_id: uuid.UUID, version: int, enforcer: FastEnforcer) -> None:
        self.tenant_id = tenant_id
        self.domain = str(tenant_id)
        self.version = version
        self.enforcer = enforcer
        self._index = GrantIndex(
            self.domain,
            enforcer.model.model["p"]["p"].policy,
            enforcer.model.model["g"]["g"].policy,
            enforcer.get_role_manager().max_hierarchy_level,
        )

    def allows(self, subject: str, resource: str, action: str) -> bool:
        return self._index.allows(subject, resource, action)

    def roles_of(self, subject: str) -> list[str]:
        roles = self.enforcer.get_roles_for_user_in_domain(subject, self.domain)
        return sorted(r.removeprefix(ROLE_PREFIX) for r in roles if r.startswith(ROLE_PREFIX))

    def members_of(self, role: str) -> list[str]:
        return sorted(self.enforcer.get_users_for_role_in_domain(role_subject(role), self.domain))

    def role_permissions(self, role: str) -> set[str]:
        rules = self.enforcer.get_filtered_policy(0, role_subject(role), self.domain)
        return {f"{rule[2]}:{rule[3]}" for rule in rules}

    def permissions_of(self, subject: str) -> set[str]:
        keys: set[str] = set()
        for role in self.roles_of(subject):
            keys |= self.role_permissions(role)
        return keys


class PolicyCache:
    """Per-worker LRU of tenant enforcers, keyed by tenant and checked against the version."""

    def __init__(self, permissions: UniqueRegistry[Permission], capacity: int) -> None:
        self._builtin_rules = [
            (role_subject(role), *key.split(":", 1))
            for role, keys in builtin_grants(permissions).items()
            for key in sorted(keys)
        ]
        self._capacity = capacity
        self._entries: OrderedDict[uuid.UUID, TenantPolicy] = OrderedDict()
        self._loading: dict[uuid.UUID, asyncio.Lock] = {}
        self.loads = 0

    async def get(self, session: AsyncSession, tenant_id: uuid.UUID, version: int) -> TenantPolicy:
        """The tenant's policy at ``version``; loads it (in the session's tenant scope) if the
        cached one is older or missing.

        One load per tenant at a time: the requests that find it missing meanwhile (every
        request of a tenant right after start-up) wait for that load instead of each loading
        the same rules, which costs CPU that grows with the tenant's users and holds each
        request's connection in its transaction for as long."""
        policy = self._cached(tenant_id, version)
        if policy is not None:
            return policy
        lock = self._loading.setdefault(tenant_id, asyncio.Lock())
        try:
            async with lock:
                policy = self._cached(tenant_id, version)
                if policy is None:
                    policy = self._store(await self._load(session, tenant_id, version))
        finally:
            if not lock.locked() and self._loading.get(tenant_id) is lock:
                del self._loading[tenant_id]
        return policy

    def _cached(self, tenant_id: uuid.UUID, version: int) -> TenantPolicy | None:
        policy = self._entries.get(tenant_id)
        if policy is None or policy.version != version:
            return None
        self._entries.move_to_end(tenant_id)
        return policy

    def _store(self, policy: TenantPolicy) -> TenantPolicy:
        tenant_id = policy.tenant_id
        self._entries[tenant_id] = policy
        self._entries.move_to_end(tenant_id)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
        return policy

    async def current(self, session: AsyncSession, tenant_id: uuid.UUID) -> TenantPolicy:
        version = await session.scalar(select(Tenant.policy_version).where(Tenant.id == tenant_id))
        return await self.get(session, tenant_id, version or 0)

    async def _load(
        self, session: AsyncSession, tenant_id: uuid.UUID, version: int
    ) -> TenantPolicy:
        self.loads += 1
        domain = str(tenant_id)
        enforcer = FastEnforcer(MODEL_PATH, None, cache_key_order=[1, 2])
        # Exact-match domains: without this the first check in a domain is O(n^2) in users.
        enforcer.get_role_manager().add_matching_func(None)
        adapter = _adapter(session)
        await adapter.load_filtered_policy(enforcer.model, _filter("p", domain, "v1"))
        await adapter.load_filtered_policy(enforcer.model, _filter("g", domain, "v2"))
        rules = enforcer.model.model["p"]["p"].policy
        for subject, resource, action in self._builtin_rules:
            # Appended as the adapter appends stored rules: model.add_policy would count every
            # rule of the FastPolicy at each addition (quadratic in the tenant's rules).
            rules.append([subject, domain, resource, action])
        # What Enforcer.load_filtered_policy does after the adapter has filled the model.
        enforcer.model.sort_policies_by_priority()
        enforcer.init_rm_map()
        enforcer.build_role_links()
        return TenantPolicy(tenant_id, version, enforcer)


async def bump_policy_version(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    await session.execute(
        update(Tenant)
        .where(Tenant.id == tenant_id)
        .values(policy_version=Tenant.policy_version + 1)
        .execution_options(synchronize_session=False)
    )


class PolicyWriter:
    """Changes to one tenant's stored policy, in the caller's transaction."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self._session = session
        self._tenant_id = tenant_id
        self._domain = str(tenant_id)
        self._adapter = _adapter(session)
        self._changed = False

    async def grant(self, role: str, keys: Iterable[str]) -> None:
        rules = [[role_subject(role), self._domain, *key.split(":", 1)] for key in keys]
        if rules:
            await self._adapter.add_policies("p", "p", rules)
            self._changed = True

    async def revoke(self, role: str, key: str) -> None:
        resource, action = key.split(":", 1)
        await self._adapter.remove_policy(
            "p", "p", [role_subject(role), self._domain, resource, action]
        )
        self._changed = True

    async def assign(self, subject: str, role: str) -> None:
        await self._adapter.add_policy("g", "g", [subject, role_subject(role), self._domain])
        self._changed = True

    async def unassign(self, subject: str, role: str) -> None:
        await self._adapter.remove_policy("g", "g", [subject, role_subject(role), self._domain])
        self._changed = True

    async def forget_subject(self, subject: str) -> None:
        await self._adapter.remove_filtered_policy("g", "g", 0, subject, "", self._domain)
        self._changed = True

    async def delete_role(self, role: str) -> None:
        await self._adapter.remove_filtered_policy("p", "p", 0, role_subject(role), self._domain)
        await self._adapter.remove_filtered_policy("g", "g", 1, role_subject(role), self._domain)
        self._changed = True

    async def finish(self) -> None:
        """Bump the tenant's policy version if anything changed (call before commit)."""
        if self._changed:
            await bump_policy_version(self._session, self._tenant_id)
            self._changed = False
