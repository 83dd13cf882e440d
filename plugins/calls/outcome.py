"""A call's outcome (disposition and notes) set from another plugin: an agent's wrap-up
writes what ``PATCH /api/v1/calls/{id}`` would, with the same timeline entry and event."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, utcnow
from plugins.calls import events, service
from plugins.calls.models import Call


async def set_call_outcome(
    platform: Platform,
    session: AsyncSession,
    call_id: uuid.UUID,
    *,
    disposition: str | None = None,
    notes: str | None = None,
    actor: str | None = None,
    source: str = "api",
) -> Call:
    """Set the call's ``disposition`` and ``notes`` (None leaves one as it is) under the
    call's row lock; a change adds an ``updated`` timeline entry and publishes
    ``calls.call.updated``. The caller commits. Raises the ``calls-call-not-found`` problem
    for an id the tenant has no call with."""
    call = await service.get_call(session, call_id, for_update=True)
    changed: list[str] = []
    if disposition is not None and disposition != call.disposition:
        call.disposition = disposition
        changed.append("disposition")
    if notes is not None and notes != call.notes:
        call.notes = notes
        changed.append("notes")
    if changed:
        call.updated_at = utcnow()
        service.note(session, call, "updated", source=source, actor=actor, changed=changed)
        await service.publish(
            platform,
            session,
            events.CallUpdated,
            call,
            disposition=call.disposition,
            notes=call.notes,
            tags=list(call.tags or []),
            changed=changed,
        )
    return call
