"""The first RBAC decision for a (subject, resource, action): its cost against a set lookup.

Every request asks its tenant's policy whether the caller holds the route's permission
(``Principal.can`` -> ``TenantPolicy.allows``). The policy is loaded per tenant and version
through casbin (``PolicyCache``); this measures the decisions made on it for the first time.

Policy, built in the database and loaded through ``PolicyCache`` as a worker loads it:
``--tenants`` tenants, each with the built-in roles granting the installed plugins'
permissions, ``--custom-roles`` custom roles (random subsets of those permissions), and
``--users`` users in all (each holding one built-in role, some a custom role too) plus
``--keys`` API keys per tenant.

Targets, on ``--decisions`` distinct (tenant, subject, resource, action) tuples in random
order, each call timed on its own:

* baseline: a plain dict/set lookup of the same grants, ``(resource, action) in
  grants[(tenant, subject)]``, precomputed by this script from the rules it wrote;
* kernel, first decision: ``TenantPolicy.allows`` on a tuple it has not seen before;
* kernel, memoised: the same tuples asked again;
* casbin ``enforce``: pycasbin's own enforcer of the same loaded policy (what the kernel
  called for each first decision before it answered from an index).

Every answer of the kernel and of casbin is checked against the baseline's. Goal: the
kernel's first decision p99 < 50 us.

    .venv/bin/python benchmarks/rbac_decision.py [--tenants 200] [--users 4000]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from harness import Backend, bench_settings, create_tenant, database_version, percentile, runner

from kernel import Database, tenant_scope
from kernel._db import make_engine
from kernel._identity.decisions import GrantIndex
from kernel._identity.models import CasbinRule
from kernel._identity.rbac import (
    PolicyCache,
    TenantPolicy,
    api_key_subject,
    builtin_grants,
    role_subject,
    user_subject,
)
from kernel._migrations import upgrade
from kernel._platform import resolve_plugins
from kernel._settings import Settings
from kernel._types import BUILTIN_ROLES

GOAL_P99_US = 50.0
Grant = tuple[str, str]
Request = tuple[int, str, str, str]  # tenant index, subject, resource, action


@dataclass
class TenantRules:
    """What the script wrote for one tenant, and the grants each subject ends up with."""

    tenant_id: uuid.UUID
    policies: list[tuple[str, str, str]] = field(default_factory=list)  # role, resource, action
    links: list[tuple[str, str]] = field(default_factory=list)  # subject, role
    grants: dict[str, frozenset[Grant]] = field(default_factory=dict)


def split(key: str) -> Grant:
    resource, action = key.split(":", 1)
    return resource, action


def plan_tenant(
    rng: random.Random,
    tenant_id: uuid.UUID,
    builtin: dict[str, set[str]],
    users: int,
    keys: int,
    custom_roles: int,
) -> TenantRules:
    rules = TenantRules(tenant_id)
    every_key = sorted(builtin["owner"])
    role_grants: dict[str, set[Grant]] = {
        role_subject(role): {split(key) for key in builtin[role]} for role in builtin
    }
    custom = [role_subject(f"custom{i}") for i in range(custom_roles)]
    for role in custom:
        chosen = rng.sample(every_key, rng.randint(3, min(15, len(every_key))))
        role_grants[role] = {split(key) for key in chosen}
        rules.policies += [(role, *split(key)) for key in chosen]
    weights = {"owner": 1, "admin": 2, "supervisor": 4, "agent": 20, "integrator": 1}
    builtin_roles = [role_subject(role) for role in BUILTIN_ROLES]
    role_weights = [weights.get(role, 1) for role in BUILTIN_ROLES]
    subjects = [user_subject(uuid.uuid4()) for _ in range(users)]
    subjects += [api_key_subject(uuid.uuid4()) for _ in range(keys)]
    for subject in subjects:
        held = {rng.choices(builtin_roles, role_weights)[0]}
        if custom and rng.random() < 0.2:
            held.add(rng.choice(custom))
        rules.links += [(subject, role) for role in sorted(held)]
        rules.grants[subject] = frozenset().union(*(role_grants[role] for role in held))
    return rules


async def write_rules(database: Database, rules: TenantRules) -> None:
    domain = str(rules.tenant_id)
    with tenant_scope(rules.tenant_id):
        async with database.session() as session:
            rows = [
                CasbinRule(ptype="p", v0=role, v1=domain, v2=resource, v3=action)
                for role, resource, action in rules.policies
            ]
            rows += [
                CasbinRule(ptype="g", v0=subject, v1=role, v2=domain)
                for subject, role in rules.links
            ]
            session.add_all(rows)
            await session.commit()


async def load_policies(
    database: Database, cache: PolicyCache, tenants: Sequence[TenantRules]
) -> tuple[list[TenantPolicy], list[float]]:
    """Each tenant's policy loaded as a worker loads it, and each load's time (seconds)."""
    policies, seconds = [], []
    for rules in tenants:
        with tenant_scope(rules.tenant_id):
            async with database.session() as session:
                start = time.perf_counter()
                policies.append(await cache.get(session, rules.tenant_id, 0))
                seconds.append(time.perf_counter() - start)
    return policies, seconds


async def prepare(
    settings: Settings, args: argparse.Namespace, rng: random.Random
) -> tuple[list[TenantRules], list[TenantPolicy], list[float], int]:
    plugin_set = resolve_plugins(settings)
    await upgrade(settings, plugin_set)
    builtin = builtin_grants(plugin_set.permissions)
    database = Database(make_engine(settings.database_url, schema=settings.database_schema))
    try:
        tenants = []
        per_tenant = [args.users // args.tenants] * args.tenants
        for index in range(args.users % args.tenants):
            per_tenant[index] += 1
        for index in range(args.tenants):
            tenant_id = await create_tenant(database, f"bench-{index}")
            rules = plan_tenant(
                rng, tenant_id, builtin, per_tenant[index], args.keys, args.custom_roles
            )
            await write_rules(database, rules)
            tenants.append(rules)
        cache = PolicyCache(plugin_set.permissions, capacity=args.tenants)
        policies, load_seconds = await load_policies(database, cache, tenants)
    finally:
        await database.dispose()
    return tenants, policies, load_seconds, len(builtin["owner"])


def distinct_requests(
    rng: random.Random, tenants: Sequence[TenantRules], keys: Sequence[str], count: int
) -> list[Request]:
    subjects = [sorted(rules.grants) for rules in tenants]
    space = sum(len(names) for names in subjects) * len(keys)
    if count > space:
        raise SystemExit(f"--decisions {count} exceeds the {space} distinct requests")
    chosen: set[Request] = set()
    while len(chosen) < count:
        index = rng.randrange(len(tenants))
        chosen.add((index, rng.choice(subjects[index]), *split(rng.choice(keys))))
    requests = list(chosen)
    rng.shuffle(requests)
    return requests


def timed(requests: Sequence[Request], decide: Callable[[int, str, str, str], bool]) -> list[float]:
    """Each decision's time in microseconds (the answers are kept for the check)."""
    gc.collect()
    clock = time.perf_counter_ns
    samples = []
    for index, subject, resource, action in requests:
        start = clock()
        decide(index, subject, resource, action)
        samples.append((clock() - start) / 1000)
    return samples


def answers(
    requests: Sequence[Request], decide: Callable[[int, str, str, str], bool]
) -> list[bool]:
    return [decide(*request) for request in requests]


def row(label: str, samples: list[float], baseline: list[float]) -> str:
    ordered, base = sorted(samples), sorted(baseline)
    p50, p99 = percentile(ordered, 0.5), percentile(ordered, 0.99)
    return (
        f"{label:<34} {p50:9.2f} {p99:9.2f} {max(ordered):10.1f} {statistics.fmean(ordered):9.2f} "
        f"{p50 / percentile(base, 0.5):8.1f} {p99 / percentile(base, 0.99):8.1f}"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--users", type=int, default=4000, help="users over all tenants")
    parser.add_argument("--keys", type=int, default=2, help="API keys per tenant")
    parser.add_argument("--custom-roles", type=int, default=3, help="custom roles per tenant")
    parser.add_argument("--decisions", type=int, default=20_000, help="distinct requests")
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    if min(args.tenants, args.decisions) < 1 or min(args.users, args.keys) < 0:
        parser.error("--tenants and --decisions must be >= 1, --users and --keys >= 0")
    if args.users + args.keys * args.tenants < 1:
        parser.error("no subjects: give --users or --keys")
    return args


def main() -> int:
    args = parse_args()
    rng = random.Random(args.seed)
    backend = Backend.from_environment()
    settings, _values = bench_settings(backend, jwt_secret="rbac-bench-" + "x" * 32)
    with runner() as run:
        try:
            run(backend.create())
            version = run(database_version(settings))
            tenants, policies, load_seconds, key_count = run(prepare(settings, args, rng))
        finally:
            run(backend.drop())
    keys = sorted(f"{resource}:{action}" for resource, action in _all_grants(tenants))
    requests = distinct_requests(rng, tenants, keys, args.decisions)
    domains = [policy.domain for policy in policies]

    def baseline(index: int, subject: str, resource: str, action: str) -> bool:
        return (resource, action) in grants[(index, subject)]

    def kernel(index: int, subject: str, resource: str, action: str) -> bool:
        return policies[index].allows(subject, resource, action)

    def casbin(index: int, subject: str, resource: str, action: str) -> bool:
        return bool(policies[index].enforcer.enforce(subject, domains[index], resource, action))

    grants = {
        (index, subject): held
        for index, rules in enumerate(tenants)
        for subject, held in rules.grants.items()
    }
    base = timed(requests, baseline)
    first = timed(requests, kernel)
    memoised = timed(requests, kernel)
    raw = timed(requests, casbin)

    expected = answers(requests, baseline)
    wrong_kernel = sum(a != b for a, b in zip(answers(requests, kernel), expected, strict=True))
    wrong_casbin = sum(a != b for a, b in zip(answers(requests, casbin), expected, strict=True))
    index_us = _index_build_us(policies)
    subjects = sum(len(rules.grants) for rules in tenants)
    rules_count = sum(len(rules.policies) + len(rules.links) for rules in tenants)
    loads = sorted(load_seconds)

    print("RBAC: the first decision for a (subject, resource, action)")
    print(
        f"policy: {args.tenants} tenants x {len(BUILTIN_ROLES)} built-in roles over "
        f"{key_count} tenant permissions of the installed plugins, {args.custom_roles} custom "
        f"roles per tenant, {subjects} subjects ({args.users} users, {args.keys} API keys per "
        f"tenant); {rules_count} stored rules"
    )
    print(f"database: {backend.describe()}, {version}; CPython {sys.version.split()[0]}")
    print(
        f"policy load per tenant (PolicyCache: query + casbin model + index): "
        f"p50 {percentile(loads, 0.5) * 1e3:.2f} ms, p99 {percentile(loads, 0.99) * 1e3:.2f} ms; "
        f"of which the index: median {index_us:.0f} us"
    )
    print(f"decisions: {len(requests)} distinct requests in random order, each timed alone")
    print()
    print(
        f"{'target':<34} {'p50 us':>9} {'p99 us':>9} {'max us':>10} {'mean us':>9} "
        f"{'p50 x':>8} {'p99 x':>8}"
    )
    print("-" * 91)
    print(row("baseline: dict/set lookup", base, base))
    print(row("kernel, first decision", first, base))
    print(row("kernel, memoised (asked again)", memoised, base))
    print(row("casbin enforce (same policy)", raw, base))
    print()
    print("p50 x / p99 x: the figure over the baseline's.")
    allowed = sum(expected)
    print(
        f"answers checked against the baseline: {len(requests)} ({allowed} allowed); "
        f"kernel wrong: {wrong_kernel}, casbin wrong: {wrong_casbin}"
    )
    p99 = percentile(sorted(first), 0.99)
    verdict = "PASS" if p99 < GOAL_P99_US else "FAIL"
    print(f"goal: kernel first decision p99 < {GOAL_P99_US:.0f} us: {p99:.2f} us -> {verdict}")
    raw_p50, raw_p99 = percentile(sorted(raw), 0.5), percentile(sorted(raw), 0.99)
    first_p50 = percentile(sorted(first), 0.5)
    print(
        f"casbin enforce / kernel first decision: p50 x{raw_p50 / first_p50:.0f}, "
        f"p99 x{raw_p99 / p99:.0f}"
    )
    return 1 if wrong_kernel or wrong_casbin else 0


def _all_grants(tenants: Sequence[TenantRules]) -> set[Grant]:
    return {grant for rules in tenants for held in rules.grants.values() for grant in held}


def _index_build_us(policies: Sequence[TenantPolicy]) -> float:
    """Median time to build one tenant's index from its loaded enforcer (part of a load)."""
    samples = []
    for policy in policies:
        model = policy.enforcer.model.model
        start = time.perf_counter()
        GrantIndex(
            policy.domain,
            model["p"]["p"].policy,
            model["g"]["g"].policy,
            policy.enforcer.get_role_manager().max_hierarchy_level,
        )
        samples.append((time.perf_counter() - start) * 1e6)
    return statistics.median(samples)


if __name__ == "__main__":
    sys.exit(main())
