"""The live figures the pacer is given, read from the campaign's rows: its seats (agents
ready, talking, wrapping up), its calls still ringing, what its recent dials measured, and
its 30-day abandonment ledger rebuilt from its attempts (the attempts are the record: each
keeps when a person answered and whether the call was abandoned)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Integer, and_, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from plugins.campaigns.metrics import bucket_start, truncated
from plugins.campaigns.models import (
    LIVE_ATTEMPTS,
    Attempt,
    AttemptStatus,
    Campaign,
    Outcome,
    Seat,
    SeatStatus,
)
from plugins.campaigns.pacing import (
    AbandonmentWindow,
    AnswerStats,
    BucketCounts,
    PacingPolicy,
    PacingSnapshot,
)

RECENT_DIALS = 500
"""The ended dials the answer rate and the times are measured over (recent ones, so that a
change during the day shows)."""
WINDOW = timedelta(days=30)
DEFAULT_WRAP_SECONDS = 30.0
DEFAULT_TALK_SECONDS = 120.0
DEFAULT_TIME_TO_ANSWER = 10.0


def live_answer() -> ColumnElement[bool]:
    """A person answered: a call answered that no detection called a machine (an abandon is
    one too)."""
    return and_(
        Attempt.answered_at.is_not(None),
        or_(Attempt.answered_by.is_(None), Attempt.answered_by != Outcome.MACHINE.value),
    )


async def abandonment(
    session: AsyncSession, campaign: Campaign, now: datetime
) -> AbandonmentWindow:
    """The campaign's rolling 30-day ledger: live answers and abandons per hour."""
    hour = truncated(session, "hour", Attempt.answered_at).label("hour")
    rows = await session.execute(
        select(
            hour,
            func.count(),
            func.sum(cast(Attempt.abandoned, Integer)),
        )
        .where(
            Attempt.campaign_id == campaign.id,
            Attempt.answered_at > now - WINDOW - timedelta(hours=1),
            live_answer(),
        )
        .group_by(hour)
    )
    buckets = [
        BucketCounts(bucket_start(label), int(answered), int(abandoned or 0))
        for label, answered, abandoned in rows
    ]
    return AbandonmentWindow.from_counts(buckets)


async def answer_stats(session: AsyncSession, campaign: Campaign) -> AnswerStats:
    """What the campaign's last ended dials measured."""
    rows = (
        await session.execute(
            select(
                Attempt.outcome,
                Attempt.answered_by,
                Attempt.placed_at,
                Attempt.answered_at,
                Attempt.connected_at,
                Attempt.ended_at,
            )
            .where(
                Attempt.campaign_id == campaign.id,
                Attempt.status == AttemptStatus.ENDED.value,
                Attempt.outcome.is_not(None),
                Attempt.outcome != Outcome.SKIPPED.value,
            )
            .order_by(Attempt.decided_at.desc())
            .limit(RECENT_DIALS)
        )
    ).all()
    live = [r for r in rows if r.outcome == Outcome.HUMAN.value]
    machines = sum(1 for r in rows if r.outcome == Outcome.MACHINE.value)
    to_answer = [
        (r.answered_at - r.placed_at).total_seconds()
        for r in live
        if r.answered_at is not None and r.placed_at is not None
    ]
    talk = [
        (r.ended_at - r.connected_at).total_seconds()
        for r in live
        if r.ended_at is not None and r.connected_at is not None
    ]
    return AnswerStats(
        dials=len(rows),
        live_answers=len(live),
        machine_answers=machines,
        average_time_to_answer=_mean(to_answer, DEFAULT_TIME_TO_ANSWER),
        average_talk_seconds=_mean(talk, DEFAULT_TALK_SECONDS),
        average_wrap_seconds=DEFAULT_WRAP_SECONDS,
    )


def _mean(values: list[float], default: float) -> float:
    return sum(values) / len(values) if values else default


async def snapshot(
    session: AsyncSession,
    campaign: Campaign,
    now: datetime,
    policy: PacingPolicy,
    *,
    measured: bool,
) -> PacingSnapshot:
    """The campaign's figures now; ``measured``: with its answer stats and 30-day ledger
    (predictive), else only its agents and calls (progressive)."""
    seats = (
        await session.execute(
            select(Seat.status, Seat.wrap_up_until).where(
                Seat.campaign_id == campaign.id,
                Seat.status.in_(
                    [SeatStatus.READY.value, SeatStatus.TALKING.value, SeatStatus.WRAP_UP.value]
                ),
            )
        )
    ).all()
    ringing = list(
        await session.scalars(
            select(func.coalesce(Attempt.placed_at, Attempt.decided_at)).where(
                Attempt.campaign_id == campaign.id,
                Attempt.status.in_(LIVE_ATTEMPTS),
                Attempt.status != AttemptStatus.PREVIEWING.value,
                Attempt.answered_at.is_(None),
            )
        )
    )
    wrap_left = tuple(
        max(0.0, (until - now).total_seconds())
        for status, until in seats
        if status == SeatStatus.WRAP_UP.value and until is not None
    )
    ages = tuple(max(0.0, (now - _aware(at)).total_seconds()) for at in ringing if at is not None)
    stats = await answer_stats(session, campaign) if measured else AnswerStats(0, 0)
    ledger = await abandonment(session, campaign, now) if measured else None
    return PacingSnapshot(
        agents_available=sum(1 for status, _ in seats if status == SeatStatus.READY.value),
        stats=stats,
        wrap_up_seconds_left=wrap_left,
        agents_on_call=sum(1 for status, _ in seats if status == SeatStatus.TALKING.value),
        calls_in_flight=len(ringing),
        in_flight_seconds=ages,
        abandonment=ledger.outlook(now, policy.lookahead) if ledger is not None else (),
    )


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
