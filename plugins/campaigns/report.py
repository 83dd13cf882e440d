"""A campaign's compliance report: every attempt in decision order with every rule's verdict,
what became of the call, and every abandoned call with the time its safe-harbour message took;
as JSON (the abandons' summary first, then the attempts, each with its whole decision record)
or as CSV (one row per attempt, one column per rule).

Streamed: the attempts are read a page at a time (keyset on ``decided_at, id``), each page in
a session of its own, so a report of any size holds one page in memory. CSV cells that a
spreadsheet would run as a formula get a leading ``'`` (the contacts plugin's
``neutralise``, as every CSV export of the platform); E.164 numbers start with ``+`` and get
it too, which keeps them text.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, tenant_scope, utcnow
from plugins.campaigns.metrics import abandon_summary
from plugins.campaigns.models import Attempt, CampaignState
from plugins.campaigns.predial import ALLOWED, CHECKS, NOT_ACTIVE
from plugins.contacts import neutralise

PAGE = 500
COLUMNS = (
    "attempt_id",
    "contact_id",
    "number",
    "attempt_no",
    "decided_at",
    "allowed",
    "rule",
    *(f"check_{name}" for name in CHECKS),
    "next_allowed_at",
    "status",
    "outcome",
    "answered_by",
    "answered_at",
    "agent_id",
    "connected_at",
    "abandoned",
    "safe_harbour_at",
    "seconds_to_safe_harbour",
    "amd_action",
    "disposition",
)
"""The CSV's columns: ``check_<rule>`` is that rule's own code in the decision (``allowed``,
``schedule.open``, ``window.allowed``... or the code it refused with; empty when the decision
stopped before judging it)."""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def seconds_to_safe_harbour(attempt: Attempt) -> float | None:
    if attempt.answered_at is None or attempt.safe_harbour_at is None:
        return None
    return round((attempt.safe_harbour_at - attempt.answered_at).total_seconds(), 3)


def verdict(decision: dict[str, Any], name: str) -> str:
    """One rule's verdict in a stored decision: ``allowed``, its refusing code, or ``""``
    when it was not judged."""
    check = (decision.get("checks") or {}).get(name)
    if not isinstance(check, dict):
        return ""
    if name == "campaign":  # its record is the campaign's state
        return ALLOWED if check.get("state") == CampaignState.ACTIVE.value else NOT_ACTIVE
    return str(check.get("rule") or "")


def as_json(attempt: Attempt) -> dict[str, Any]:
    return {
        "attempt_id": str(attempt.id),
        "contact_id": str(attempt.contact_id),
        "number": attempt.number,
        "attempt_no": attempt.attempt_no,
        "decided_at": _iso(attempt.decided_at),
        "allowed": attempt.allowed,
        "rule": attempt.rule,
        "decision": attempt.decision,
        "status": attempt.status,
        "outcome": attempt.outcome,
        "answered_by": attempt.answered_by,
        "answered_at": _iso(attempt.answered_at),
        "agent_id": str(attempt.agent_id) if attempt.agent_id else None,
        "connected_at": _iso(attempt.connected_at),
        "abandoned": bool(attempt.abandoned),
        "safe_harbour_at": _iso(attempt.safe_harbour_at),
        "seconds_to_safe_harbour": seconds_to_safe_harbour(attempt),
        "amd_action": attempt.amd_action,
        "disposition": attempt.disposition,
    }


def as_csv(attempt: Attempt) -> list[str]:
    record = as_json(attempt)
    decision = attempt.decision or {}
    record |= {f"check_{name}": verdict(decision, name) for name in CHECKS}
    record["next_allowed_at"] = decision.get("next_allowed_at")
    cells = []
    for column in COLUMNS:
        value = record[column]
        text = "" if value is None else ("true" if value is True else str(value))
        cells.append(neutralise("false" if value is False else text))
    return cells


async def _page(
    session: AsyncSession,
    campaign_id: uuid.UUID,
    after: tuple[datetime, uuid.UUID] | None,
    start: datetime | None,
    end: datetime | None,
) -> Sequence[Attempt]:
    """The next page after ``after`` in ``(decided_at, id)`` order. The page's last instant
    is found first in the index's own order (no sort), so that only that page's rows are
    sorted by id, whatever the planner guesses about the rest of the campaign."""
    conditions = [Attempt.campaign_id == campaign_id]
    if start is not None:
        conditions.append(Attempt.decided_at >= start)
    if end is not None:
        conditions.append(Attempt.decided_at < end)
    if after is not None:
        at, last = after
        # the first condition alone bounds the index range; the second skips the ties read
        conditions += [Attempt.decided_at >= at, or_(Attempt.decided_at > at, Attempt.id > last)]
    last_instant = await session.scalar(
        select(Attempt.decided_at)
        .where(*conditions)
        .order_by(Attempt.decided_at)
        .offset(PAGE - 1)
        .limit(1)
    )
    if last_instant is not None:
        conditions.append(Attempt.decided_at <= last_instant)
    query = select(Attempt).where(*conditions).order_by(Attempt.decided_at, Attempt.id).limit(PAGE)
    return list(await session.scalars(query))


async def attempts(
    platform: Platform,
    *,
    tenant_id: uuid.UUID,
    campaign_id: uuid.UUID,
    start: datetime | None,
    end: datetime | None,
) -> AsyncIterator[Sequence[Attempt]]:
    """The campaign's attempts in decision order, a page at a time (a session per page)."""
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        with tenant_scope(tenant_id):
            async with platform.database.session() as session:
                page = await _page(session, campaign_id, after, start, end)
        if page:
            yield page
        if len(page) < PAGE:
            return
        after = (page[-1].decided_at, page[-1].id)


def _take(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


async def report_csv(
    platform: Platform,
    *,
    tenant_id: uuid.UUID,
    campaign_id: uuid.UUID,
    start: datetime | None = None,
    end: datetime | None = None,
) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    yield "\ufeff" + _take(buffer)  # a BOM: spreadsheets then read the file as UTF-8
    async for page in attempts(
        platform, tenant_id=tenant_id, campaign_id=campaign_id, start=start, end=end
    ):
        writer.writerows(as_csv(attempt) for attempt in page)
        yield _take(buffer)


async def report_json(
    platform: Platform,
    *,
    tenant_id: uuid.UUID,
    campaign_id: uuid.UUID,
    start: datetime | None = None,
    end: datetime | None = None,
) -> AsyncIterator[str]:
    """``CampaignComplianceReport`` as JSON text, the attempts written as they are read."""
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            summary = await abandon_summary(session, campaign_id, start=start, end=end)
    head = {
        "campaign_id": str(campaign_id),
        "generated_at": utcnow().isoformat(),
        "from": _iso(start),
        "to": _iso(end),
        "abandons": summary,
    }
    yield json.dumps(head)[:-1] + ', "attempts": ['
    first = True
    async for page in attempts(
        platform, tenant_id=tenant_id, campaign_id=campaign_id, start=start, end=end
    ):
        rows = ",\n".join(json.dumps(as_json(attempt)) for attempt in page)
        yield ("\n" if first else ",\n") + rows
        first = False
    yield "]}\n"
