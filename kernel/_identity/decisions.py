"""Casbin's decisions for one tenant, answered from dicts built when its policy is loaded.

pycasbin evaluates the model's matcher with simpleeval on every ``enforce`` (the expression
is parsed and compiled anew) and walks the domain's role graph for each candidate rule: 70 to
several hundred microseconds per first decision. The model (``rbac_model.conf``) is fixed, so
its decision can be computed directly from the rules casbin loaded:

    allow  iff  some rule ``p, s, dom, obj, act`` has ``dom == r.dom``, ``obj == r.obj``,
                ``act == r.act`` and ``g(r.sub, s, r.dom)``

where ``g(a, b, dom)`` (casbin's domain role manager, exact names and domains) holds when
``b`` is ``a`` itself or is reached from ``a`` through at most ``max_hierarchy_level - 1``
of the domain's ``g`` links. ``tests/kernel/identity/test_rbac_decisions.py`` checks this
against casbin's own ``enforce`` on generated policies.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

MAX_SUBJECTS = 50_000


class GrantIndex:
    """Who holds each (resource, action) in one domain, and the domain's role links."""

    def __init__(
        self,
        domain: str,
        policies: Iterable[Sequence[str]],
        links: Iterable[Sequence[str]],
        max_hierarchy_level: int,
    ) -> None:
        holders: dict[tuple[str, str], set[str]] = {}
        for rule in policies:
            subject, rule_domain, resource, action = rule[:4]
            if rule_domain == domain:
                holders.setdefault((resource, action), set()).add(subject)
        roles: dict[str, list[str]] = {}
        for link in links:
            user, role, link_domain = link[:3]
            if link_domain == domain:
                roles.setdefault(user, []).append(role)
        self._holders = {key: frozenset(names) for key, names in holders.items()}
        self._roles = {user: tuple(names) for user, names in roles.items()}
        self._max_depth = max_hierarchy_level - 1
        self._closures: dict[str, frozenset[str]] = {}

    def allows(self, subject: str, resource: str, action: str) -> bool:
        holders = self._holders.get((resource, action))
        if holders is None:
            return False
        closure = self._closures.get(subject)  # subjects_of, without a call when known
        return not holders.isdisjoint(closure or self.subjects_of(subject))

    def subjects_of(self, subject: str) -> frozenset[str]:
        """``subject`` and every role it reaches (what ``g(subject, x, dom)`` admits as x);
        computed once per subject, the policy never changes within its version."""
        closure = self._closures.get(subject)
        if closure is None:
            closure = self._reach(subject)
            if len(self._closures) >= MAX_SUBJECTS:
                self._closures.clear()
            self._closures[subject] = closure
        return closure

    def _reach(self, subject: str) -> frozenset[str]:
        # Breadth first, as casbin's RoleManager._has_link: distance d is seen at level
        # max_hierarchy_level - d, which must stay above zero.
        seen = {subject}
        frontier = [subject]
        for _ in range(self._max_depth):
            following = [
                role for name in frontier for role in self._roles.get(name, ()) if role not in seen
            ]
            if not following:
                break
            seen.update(following)
            frontier = following
        return frozenset(seen)
