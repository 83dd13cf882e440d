"""A tenant policy decides exactly as casbin's ``enforce`` on the same loaded rules.

Decisions are answered from an index built at load (``kernel._identity.decisions``), not by
casbin's matcher; these tests compare both on every (subject, resource, action) of generated
policies: role hierarchies (with cycles and chains longer than casbin's hierarchy limit),
rules granted to subjects directly, and rules and links of other domains.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator

import pytest
from casbin import FastEnforcer

from kernel._identity.rbac import MODEL_PATH, TenantPolicy

RESOURCES = ("calls", "users", "roles", "flows", "webhooks")
ACTIONS = ("read", "write", "manage")


def enforcer_with(
    policies: list[list[str]], links: list[list[str]]
) -> tuple[FastEnforcer, TenantPolicy]:
    """An enforcer built as ``PolicyCache`` builds one, and the tenant policy on top of it."""
    tenant_id = uuid.UUID(int=1)
    enforcer = FastEnforcer(MODEL_PATH, None, cache_key_order=[1, 2])
    enforcer.get_role_manager().add_matching_func(None)
    for rule in policies:
        enforcer.model.add_policy("p", "p", rule)
    for link in links:
        enforcer.model.add_policy("g", "g", link)
    enforcer.model.sort_policies_by_priority()
    enforcer.init_rm_map()
    enforcer.build_role_links()
    return enforcer, TenantPolicy(tenant_id, 1, enforcer)


def every_request(subjects: list[str]) -> Iterator[tuple[str, str, str]]:
    for subject in subjects:
        for resource in (*RESOURCES, "unknown"):
            for action in ACTIONS:
                yield subject, resource, action


def assert_same_decisions(enforcer: FastEnforcer, policy: TenantPolicy, subjects: list[str]) -> int:
    allowed = 0
    for subject, resource, action in every_request(subjects):
        expected = bool(enforcer.enforce(subject, policy.domain, resource, action))
        assert policy.allows(subject, resource, action) is expected, (subject, resource, action)
        assert policy.allows(subject, resource, action) is expected, "the second answer"
        allowed += expected
    return allowed


@pytest.mark.parametrize("seed", range(8))
def test_generated_policies_decide_as_casbin(seed: int) -> None:
    rng = random.Random(seed)
    domain, other = str(uuid.UUID(int=1)), str(uuid.UUID(int=2))
    roles = [f"role:r{i}" for i in range(8)]
    users = [f"user:{i}" for i in range(25)]
    policies: list[list[str]] = []
    for subject in roles + rng.sample(users, 4):  # a few grants to users directly
        for _ in range(rng.randint(0, 6)):
            policies.append([subject, domain, rng.choice(RESOURCES), rng.choice(ACTIONS)])
    for _ in range(10):  # another tenant's rules never apply here
        subject = rng.choice(roles + users)
        policies.append([subject, other, rng.choice(RESOURCES), rng.choice(ACTIONS)])
    links = [[user, rng.choice(roles), domain] for user in users for _ in range(rng.randint(0, 2))]
    links += [[rng.choice(roles), rng.choice(roles), domain] for _ in range(6)]  # may cycle
    links += [[rng.choice(users), rng.choice(roles), other] for _ in range(10)]
    enforcer, policy = enforcer_with(policies, links)

    allowed = assert_same_decisions(enforcer, policy, [*users, *roles, "user:nobody"])

    assert 0 < allowed < len(list(every_request([*users, *roles, "user:nobody"])))


def test_role_chains_stop_where_casbins_hierarchy_limit_does() -> None:
    domain = str(uuid.UUID(int=1))
    chain = [f"role:level{i}" for i in range(14)]
    links = [["user:deep", chain[0], domain]]
    links += [[chain[i], chain[i + 1], domain] for i in range(len(chain) - 1)]
    policies = [[role, domain, RESOURCES[i % 5], ACTIONS[i // 5]] for i, role in enumerate(chain)]
    enforcer, policy = enforcer_with(policies, links)

    assert_same_decisions(enforcer, policy, ["user:deep", *chain])
    assert policy.allows("user:deep", RESOURCES[8 % 5], ACTIONS[8 // 5]), "9 links away"
    assert not policy.allows("user:deep", RESOURCES[9 % 5], ACTIONS[9 // 5]), "10 links away"


def test_a_role_name_is_its_own_subject_and_unknown_subjects_hold_nothing() -> None:
    domain = str(uuid.UUID(int=1))
    enforcer, policy = enforcer_with(
        [["role:agent", domain, "calls", "read"], ["user:direct", domain, "calls", "write"]],
        [["user:a", "role:agent", domain]],
    )

    assert policy.allows("role:agent", "calls", "read")
    assert policy.allows("user:a", "calls", "read")
    assert not policy.allows("user:a", "calls", "write")
    assert policy.allows("user:direct", "calls", "write")
    assert not policy.allows("user:unknown", "calls", "read")
    assert_same_decisions(enforcer, policy, ["role:agent", "user:a", "user:direct", "user:x"])
