"""Hooks the contacts plugin declares for other plugins (see ``docs/plugins/contacts.md``).

The arguments are plain values (no contacts types), so a plugin can implement a hook without
importing or requiring ``contacts``: mark the implementation ``@hookimpl(optionalhook=True)``
and it runs whenever contacts is loaded, and is ignored when it is not.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, hookspec


@hookspec
def kraliki_contact_erased(
    platform: Platform,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    contact_id: uuid.UUID,
    numbers: Sequence[str],
    emails: Sequence[str],
    pseudonym: str,
) -> Any:
    """Remove or pseudonymise what you hold about an erased contact; may be async.

    Called in the tenant's scope with the erasure's own ``session``: write through it and do
    not commit; every plugin's part and the contacts plugin's own commit together, or none
    does and the erasure is retried. ``numbers`` are the contact's E.164 numbers and
    ``emails`` its e-mail addresses (lower case), as they were before erasure; ``pseudonym``
    (``erased-`` and 12 hex digits, stable per contact) replaces them where a value must
    remain (a call's ``from_number``). Must be idempotent: a retried erasure calls it again.
    """


@hookspec
def kraliki_contact_data(
    platform: Platform,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    contact_id: uuid.UUID,
    numbers: Sequence[str],
    emails: Sequence[str],
) -> Any:
    """What you hold about a contact, for its data export (right of access); may be async.

    Called in the tenant's scope with the export's ``session`` (read only: write nothing).
    ``numbers`` are the contact's E.164 numbers and ``emails`` its e-mail addresses (lower
    case). Return a mapping of plain JSON values (strings, numbers, booleans, lists, dicts;
    ids and times as strings), or None when you hold nothing: it appears in the export under
    your plugin's name. Keep it to the person's data (what you would erase in
    ``kraliki_contact_erased``), never secrets.
    """
