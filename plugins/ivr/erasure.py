"""Erasure of a contact (``kraliki_contact_erased``, declared by the contacts plugin, which
the IVR does not require): what the IVR kept of the contact's calls in their flows — the
caller's answers, what lookups returned, what effects reported — is removed; the path taken
and the outcome stay for the flow's statistics. See ``docs/plugins/ivr.md``, "Erasure".

Written through the erasure's session, never committed; running it again changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from plugins.calls import Call, CallEvent
from plugins.ivr.models import FlowSession
from plugins.ivr.runtime import EFFECT_KIND

CHUNK = 200


async def erase_contact(
    session: AsyncSession, *, tenant_id: uuid.UUID, numbers: Sequence[str], pseudonym: str
) -> int:
    """Erase the flow state of the tenant's calls from or to ``numbers``, or already carrying
    ``pseudonym`` (``calls`` may have replaced the numbers first). Returns the sessions."""
    known = [number for number in dict.fromkeys([*numbers, pseudonym]) if number]
    if not known:
        return 0
    calls = (
        select(Call.id)
        .where(Call.tenant_id == tenant_id)
        .where(or_(Call.from_number.in_(known), Call.to_number.in_(known)))
    )
    flow_sessions = list(
        await session.scalars(
            select(FlowSession)
            .where(FlowSession.tenant_id == tenant_id, FlowSession.call_id.in_(calls))
            .with_for_update()
        )
    )
    for flow_session in flow_sessions:
        erased = erased_state(flow_session.state or {})
        if erased != flow_session.state:
            flow_session.state = erased
    ids = [flow_session.call_id for flow_session in flow_sessions]
    for start in range(0, len(ids), CHUNK):
        entries = await session.scalars(
            select(CallEvent).where(
                CallEvent.tenant_id == tenant_id,
                CallEvent.call_id.in_(ids[start : start + CHUNK]),
                CallEvent.kind == EFFECT_KIND,
            )
        )
        for entry in entries:
            if "result" in (entry.detail or {}):
                entry.detail = {k: v for k, v in entry.detail.items() if k != "result"}
    await session.flush()
    return len(flow_sessions)


def erased_state(state: dict[str, Any]) -> dict[str, Any]:
    """A saved ``FlowState`` without what the call put in it: its variables (the caller's
    digits and words, lookups' answers, values set from them) and its outcome's detail;
    what is left (the path, the outcome, retries, the versions run) is still a valid state."""
    erased = dict(state)
    if "variables" in erased:
        erased["variables"] = {}
    outcome = erased.get("outcome")
    if isinstance(outcome, dict) and outcome.get("detail"):
        erased["outcome"] = {**outcome, "detail": {}}
    return erased
