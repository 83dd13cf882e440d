"""Forgetting a tenant's people when the tenant is purged.

The tenant's own rows go with it (foreign keys cascade), but the operator audit log is a
platform table that outlives the tenant (it must still say who created and deleted it), and
some of its records about the tenant name the tenant's people: the owner's e-mail address in
``tenant.created``, the client address of a self-service sign-up. Before the purge, those
are replaced by pseudonyms (``deleted-user-<user id>``) or dropped, so a purge leaves no
personal data about the tenant's users anywhere.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel._identity.models import OperatorAuditEvent, User
from kernel._tenancy import TenancyError, current_tenant_id

UNKNOWN_PERSON = "deleted-user"
_EMAIL = re.compile(r"[^\s@\"'<>,;]+@[^\s@\"'<>,;]+")


def pseudonym(user_id: uuid.UUID | str) -> str:
    """What replaces a purged tenant's user wherever a record named them."""
    return f"deleted-user-{user_id}"


async def pseudonymize_operator_audit(
    session: AsyncSession, *, anonymous_actors: Collection[str] = ()
) -> int:
    """Rewrite the operator audit log's records about the tenant in scope so that they name
    none of its people; returns how many records changed. Call it in the purge's
    transaction, before the tenant's rows go (its users are read to know whom to replace).

    In every record's ``details``: e-mail addresses and names of the tenant's users become
    their pseudonym, and any other e-mail address (a user deleted earlier) or value under a
    key ending in ``email`` becomes ``deleted-user``. Records whose actor (``operator_id``)
    is in ``anonymous_actors`` were caused by the tenant's people, not by an operator (a
    self-service sign-up): their source address is dropped too.
    """
    tenant_id = current_tenant_id()
    if tenant_id is None:
        raise TenancyError("forgetting a tenant's people needs its scope")
    known: dict[str, str] = {}
    for user_id, email, name in await session.execute(
        select(User.id, User.email, User.display_name)
    ):
        known[email.lower()] = pseudonym(user_id)
        if name.strip():
            known[name.strip().lower()] = pseudonym(user_id)
    rewrite = _Rewriter(known)
    changed = 0
    records = await session.scalars(
        select(OperatorAuditEvent).where(OperatorAuditEvent.tenant_id == tenant_id)
    )
    for record in records:
        details = rewrite.value(record.details or {}, key="")
        anonymous = record.operator_id in anonymous_actors and record.source_address
        if details != record.details or anonymous:
            record.details = details
            if anonymous:
                record.source_address = None
            changed += 1
    await session.flush()
    return changed


class _Rewriter:
    def __init__(self, known: dict[str, str]) -> None:
        self.known = known
        names = sorted((k for k in known if "@" not in k), key=len, reverse=True)
        self.names = (
            re.compile("|".join(rf"\b{re.escape(name)}\b" for name in names), re.IGNORECASE)
            if names
            else None
        )

    def value(self, value: Any, *, key: str) -> Any:
        if isinstance(value, dict):
            return {k: self.value(v, key=str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(item, key=key) for item in value]
        if not isinstance(value, str):
            return value
        if key.lower().endswith("email") and value:
            return self.known.get(value.strip().lower(), UNKNOWN_PERSON)
        text = _EMAIL.sub(lambda m: self.known.get(m.group(0).lower(), UNKNOWN_PERSON), value)
        if self.names is not None:
            text = self.names.sub(lambda m: self.known[m.group(0).lower()], text)
        return text
