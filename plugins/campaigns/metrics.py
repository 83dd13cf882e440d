"""A campaign's figures (``CampaignMetric``), in total and per hour or day, computed by the
database: a few aggregate queries over the campaign's attempts and roster, never a loop over
rows (a campaign of 100,000 attempts costs one indexed scan of them).

What is counted (``docs/plugins/campaigns.md#metrics`` says the same for users):

* **attempts**: dials, an allowed attempt that is not ``not_placed`` (the calls plugin's
  limits refused it), ``previewing`` (an agent has not started it yet) nor ``skipped``;
* **blocked**: decisions a rule refused, in all and per ``rule``;
* **connects**: attempts answered (outcome ``human`` or ``machine``, or ``answered_at`` set);
* **human** / **machine**: connects answered by a person / an answering machine
  (``outcome`` or ``answered_by`` ``machine``);
* **right-party contacts**: the person reached and talked to: answered by a person, not
  abandoned and connected to an agent (``connected_at``); in an agentless campaign, answered
  by a person (the flow ran for them);
* **abandoned**: a person answered and no agent was connected within 2 seconds;
* **abandonment rate (30 days)**: abandoned / human-answered calls answered in the last 30
  days (and since the first activation), in percent; null before the first such answer;
* **average handle time**: seconds from the agent's connection (``connected_at``; agentless:
  the answer, ``answered_at``) to the end (``ended_at``), over the attempts that have both;
* **contacts**: the roster by status, ``remaining`` the ones still to dial (pending,
  scheduled, dialing).

Buckets (``/metrics``) are UTC hours or days; every attempt counts in the bucket of its
decision (``decided_at``), its answer, abandonment and handle time with it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    extract,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import utcnow
from plugins.campaigns.models import (
    Attempt,
    AttemptStatus,
    Campaign,
    CampaignContact,
    ContactStatus,
    Mode,
    Outcome,
)
from plugins.campaigns.schemas import (
    CampaignMetric,
    CampaignMetricBucket,
    CampaignMetricContacts,
)

ABANDON_WINDOW = timedelta(days=30)
"""The rolling window of the abandonment rate (the FTC's 30 days)."""
SAFE_HARBOUR_SECONDS = 2.0
"""The safe-harbour message must start within this many seconds of the person's answer."""
BUCKETS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
MAX_SPAN = {"hour": timedelta(days=31), "day": timedelta(days=366)}
"""The widest range ``/metrics`` answers per bucket size (744 hours, 366 days)."""
REMAINING = (
    ContactStatus.PENDING.value,
    ContactStatus.SCHEDULED.value,
    ContactStatus.DIALING.value,
)
NOT_DIALLED = (AttemptStatus.NOT_PLACED.value, AttemptStatus.PREVIEWING.value)


def postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def seconds_between(session: AsyncSession, start: Any, end: Any) -> ColumnElement[Any]:
    """``end - start`` in seconds, in SQL (PostgreSQL's epoch of an interval; SQLite's
    Julian days, which read the stored ``YYYY-MM-DD HH:MM:SS.ffffff``)."""
    if postgres(session):
        return extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * literal(86400.0)


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


@dataclass(frozen=True)
class Classes:
    """The SQL conditions that sort one campaign's attempts (its mode decides two of them)."""

    dialled: ColumnElement[bool]
    blocked: ColumnElement[bool]
    answered: ColumnElement[bool]
    machine: ColumnElement[bool]
    human: ColumnElement[bool]
    right_party: ColumnElement[bool]
    abandoned: ColumnElement[bool]
    handled: ColumnElement[bool]
    handle_seconds: ColumnElement[Any]


def classes(session: AsyncSession, mode: str) -> Classes:
    agentless = mode == Mode.AGENTLESS.value
    answered = or_(
        Attempt.outcome.in_((Outcome.HUMAN.value, Outcome.MACHINE.value)),
        Attempt.answered_at.is_not(None),
    )
    machine = or_(
        func.coalesce(Attempt.outcome, "") == Outcome.MACHINE.value,
        func.coalesce(Attempt.answered_by, "") == "machine",
    )
    human = and_(answered, not_(machine))
    abandoned = Attempt.abandoned.is_(True)
    start = Attempt.answered_at if agentless else Attempt.connected_at
    return Classes(
        dialled=and_(
            Attempt.allowed.is_(True),
            Attempt.status.not_in(NOT_DIALLED),
            func.coalesce(Attempt.outcome, "") != Outcome.SKIPPED.value,
        ),
        blocked=Attempt.allowed.is_(False),
        answered=answered,
        machine=and_(answered, machine),
        human=human,
        right_party=and_(
            human,
            not_(abandoned),
            true() if agentless else Attempt.connected_at.is_not(None),
        ),
        abandoned=abandoned,
        handled=and_(start.is_not(None), Attempt.ended_at.is_not(None)),
        handle_seconds=seconds_between(session, start, Attempt.ended_at),
    )


def _aht(total: Any, count: Any) -> float | None:
    return round(float(total) / int(count), 1) if count else None


async def campaign_metric(
    session: AsyncSession, campaign: Campaign, *, now: datetime | None = None
) -> CampaignMetric:
    """The campaign's figures now (three aggregate queries)."""
    now = now or utcnow()
    c = classes(session, campaign.mode)
    since = now - ABANDON_WINDOW
    if campaign.activated_at is not None and campaign.activated_at > since:
        since = campaign.activated_at
    in_window = and_(c.human, Attempt.answered_at.is_not(None), Attempt.answered_at >= since)
    totals = (
        await session.execute(
            select(
                func.coalesce(func.sum(_flag(c.dialled)), 0),
                func.coalesce(func.sum(_flag(c.blocked)), 0),
                func.coalesce(func.sum(_flag(c.answered)), 0),
                func.coalesce(func.sum(_flag(c.human)), 0),
                func.coalesce(func.sum(_flag(c.machine)), 0),
                func.coalesce(func.sum(_flag(c.right_party)), 0),
                func.coalesce(func.sum(_flag(c.abandoned)), 0),
                func.coalesce(func.sum(_flag(in_window)), 0),
                func.coalesce(func.sum(_flag(and_(in_window, c.abandoned))), 0),
                func.coalesce(func.sum(_flag(c.handled)), 0),
                func.coalesce(func.sum(case((c.handled, c.handle_seconds), else_=0.0)), 0.0),
            ).where(Attempt.campaign_id == campaign.id)
        )
    ).one()
    by_rule = {
        str(rule): int(count)
        for rule, count in await session.execute(
            select(Attempt.rule, func.count())
            .where(Attempt.campaign_id == campaign.id, c.blocked)
            .group_by(Attempt.rule)
            .order_by(Attempt.rule)
        )
    }
    roster = {status.value: 0 for status in ContactStatus}
    for status, count in await session.execute(
        select(CampaignContact.status, func.count())
        .where(CampaignContact.campaign_id == campaign.id)
        .group_by(CampaignContact.status)
    ):
        roster[str(status)] = int(count)
    answered_30d, abandoned_30d = int(totals[7]), int(totals[8])
    return CampaignMetric(
        attempts=int(totals[0]),
        blocked=int(totals[1]),
        blocked_by_rule=by_rule,
        connects=int(totals[2]),
        human=int(totals[3]),
        machine=int(totals[4]),
        right_party_contacts=int(totals[5]),
        abandoned=int(totals[6]),
        answered_30d=answered_30d,
        abandoned_30d=abandoned_30d,
        abandonment_rate_30d=(
            round(100.0 * abandoned_30d / answered_30d, 2) if answered_30d else None
        ),
        average_handle_seconds=_aht(totals[10], totals[9]),
        contacts=CampaignMetricContacts(
            total=sum(roster.values()),
            remaining=sum(roster[s] for s in REMAINING),
            pending=roster[ContactStatus.PENDING.value],
            scheduled=roster[ContactStatus.SCHEDULED.value],
            dialing=roster[ContactStatus.DIALING.value],
            done=roster[ContactStatus.DONE.value],
            exhausted=roster[ContactStatus.EXHAUSTED.value],
            blocked=roster[ContactStatus.BLOCKED.value],
        ),
        at=now,
    )


def floor(at: datetime, bucket: str) -> datetime:
    """The start of the UTC hour or day ``at`` falls in."""
    at = at.astimezone(UTC)
    if bucket == "hour":
        return at.replace(minute=0, second=0, microsecond=0)
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def truncated(session: AsyncSession, bucket: str, column: Any) -> ColumnElement[Any]:
    """A UTC timestamp ``column`` cut to its UTC hour or day, in SQL: PostgreSQL's
    ``date_trunc`` on the UTC wall clock (a plain timestamp); SQLite's ``strftime`` of the
    stored UTC text. :func:`bucket_start` reads the result back."""
    # constants written into the SQL (not bound): PostgreSQL groups by the expression only
    # when the one in GROUP BY is the same text as the one selected
    if postgres(session):
        unit: ColumnElement[str] = literal_column("'hour'" if bucket == "hour" else "'day'")
        return func.date_trunc(unit, func.timezone(literal_column("'UTC'"), column))
    pattern = "'%Y-%m-%d %H:00:00'" if bucket == "hour" else "'%Y-%m-%d 00:00:00'"
    return func.strftime(literal_column(pattern), column)


def bucket_start(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def bucketed(
    session: AsyncSession,
    campaign: Campaign,
    *,
    bucket: str,
    start: datetime,
    end: datetime,
) -> list[CampaignMetricBucket]:
    """Every UTC ``bucket`` from the one ``start`` falls in up to ``end`` (exclusive), empty
    ones included, from one grouped query over the attempts decided in that span."""
    c = classes(session, campaign.mode)
    first = floor(start, bucket)
    key = truncated(session, bucket, Attempt.decided_at).label("bucket")
    rows = await session.execute(
        select(
            key,
            func.sum(_flag(c.dialled)),
            func.sum(_flag(c.blocked)),
            func.sum(_flag(c.answered)),
            func.sum(_flag(c.human)),
            func.sum(_flag(c.right_party)),
            func.sum(_flag(c.abandoned)),
            func.sum(_flag(c.handled)),
            func.coalesce(func.sum(case((c.handled, c.handle_seconds), else_=0.0)), 0.0),
        )
        .where(
            Attempt.campaign_id == campaign.id,
            Attempt.decided_at >= first,
            Attempt.decided_at < end,
        )
        .group_by(key)
    )
    found = {bucket_start(row[0]): row for row in rows}
    step = BUCKETS[bucket]
    buckets = []
    at = first
    while at < end:
        row = found.get(at)
        buckets.append(
            CampaignMetricBucket(
                start=at,
                attempts=int(row[1]) if row else 0,
                blocked=int(row[2]) if row else 0,
                connects=int(row[3]) if row else 0,
                human=int(row[4]) if row else 0,
                right_party_contacts=int(row[5]) if row else 0,
                abandoned=int(row[6]) if row else 0,
                average_handle_seconds=_aht(row[8], row[7]) if row else None,
            )
        )
        at += step
    return buckets


async def abandon_summary(
    session: AsyncSession,
    campaign_id: uuid.UUID,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> dict[str, Any]:
    """The abandoned calls decided in the span: how many, how long the safe-harbour message
    took after the answer (max, average) and how many took longer than 2 seconds or never
    started (no ``safe_harbour_at``)."""
    delay = seconds_between(session, Attempt.answered_at, Attempt.safe_harbour_at)
    timed = and_(Attempt.answered_at.is_not(None), Attempt.safe_harbour_at.is_not(None))
    query = select(
        func.count(),
        func.max(case((timed, delay))),
        func.avg(case((timed, delay))),
        func.coalesce(func.sum(_flag(and_(timed, delay > SAFE_HARBOUR_SECONDS))), 0),
        func.coalesce(func.sum(_flag(Attempt.safe_harbour_at.is_(None))), 0),
    ).where(Attempt.campaign_id == campaign_id, Attempt.abandoned.is_(True))
    if start is not None:
        query = query.where(Attempt.decided_at >= start)
    if end is not None:
        query = query.where(Attempt.decided_at < end)
    row = (await session.execute(query)).one()
    return {
        "count": int(row[0]),
        "max_seconds_to_safe_harbour": round(float(row[1]), 3) if row[1] is not None else None,
        "average_seconds_to_safe_harbour": round(float(row[2]), 3) if row[2] is not None else None,
        "over_2_seconds": int(row[3]),
        "without_safe_harbour": int(row[4]),
    }
