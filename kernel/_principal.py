"""Who is calling: the value every authenticated route receives."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

PrincipalKind = Literal["operator", "user", "api_key"]


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a platform operator, a tenant user or an API key.

    Tenant principals carry an ``authorizer`` (their tenant's Casbin enforcer, bound to the
    caller); ``permissions`` is used when there is none (operators, tests).
    """

    subject: str
    kind: PrincipalKind
    tenant_id: uuid.UUID | None = None
    permissions: frozenset[str] = field(default_factory=frozenset)
    label: str = ""
    """E-mail or key name, for audit records."""
    session_id: uuid.UUID | None = None
    disabled_plugins: frozenset[str] = field(default_factory=frozenset)
    authorizer: Callable[[str, str], bool] | None = field(default=None, compare=False, repr=False)

    def can(self, resource: str, action: str) -> bool:
        if self.authorizer is not None:
            return self.authorizer(resource, action)
        return f"{resource}:{action}" in self.permissions
