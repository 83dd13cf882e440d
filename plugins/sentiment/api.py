"""``/api/v1/sentiment``: a call's sentiment, analysing a call on demand, trends."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from datetime import time as clock
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query
from fastapi.exceptions import RequestValidationError

from kernel import (
    PlatformDep,
    Principal,
    SessionDep,
    problem_responses,
    require,
    utcnow,
)
from plugins.queues import day_of, time_zone
from plugins.sentiment.analysis import analyze
from plugins.sentiment.permissions import SENTIMENT_ANALYZE, SENTIMENT_READ
from plugins.sentiment.problems import CALL_NOT_FOUND, MODEL_FAILED, NO_TRANSCRIPT
from plugins.sentiment.reading import call_sentiment, trends
from plugins.sentiment.schemas import CallSentimentOut, TrendsOut

router = APIRouter(tags=["sentiment"])

Reader = Annotated[Principal, Depends(require(SENTIMENT_READ.resource, SENTIMENT_READ.action))]
Analyst = Annotated[
    Principal, Depends(require(SENTIMENT_ANALYZE.resource, SENTIMENT_ANALYZE.action))
]
MAX_DAYS = 366
DEFAULT_DAYS = 30


@router.get(
    "/calls/{call_id}",
    response_model=CallSentimentOut,
    summary="A call's sentiment",
    responses=problem_responses(CALL_NOT_FOUND),
)
async def get_call_sentiment(
    call_id: uuid.UUID, _: Reader, session: SessionDep
) -> CallSentimentOut:
    """Overall and per speaker (customer, agent), the trend through the call as points (one
    per scored segment), and the most negative moments with what was said."""
    return await call_sentiment(session, call_id)


@router.post(
    "/calls/{call_id}/analyze",
    response_model=CallSentimentOut,
    summary="Analyse a call's transcript",
    responses=problem_responses(CALL_NOT_FOUND, NO_TRANSCRIPT, MODEL_FAILED),
)
async def analyze_call(
    call_id: uuid.UUID, _: Analyst, session: SessionDep, platform: PlatformDep
) -> CallSentimentOut:
    """Score the call's stored transcript again with the organization's model for the
    `sentiment` task (a finished call, or one scored before a model change). Idempotent: the
    same transcript gives the same figures; `sentiment.call.updated` is published when they
    changed."""
    await analyze(platform, session, call_id)
    return await call_sentiment(session, call_id)


@router.get("/trends", response_model=TrendsOut, summary="Sentiment trends")
async def get_trends(
    _: Reader,
    session: SessionDep,
    group_by: Annotated[
        Literal["agent", "queue", "campaign", "day"],
        Query(description="agent, queue, campaign, or day (the organization's time zone)."),
    ] = "day",
    from_: Annotated[
        date | None,
        Query(
            alias="from",
            description="First day (the organization's time zone); 29 days before `to`.",
        ),
    ] = None,
    to: Annotated[date | None, Query(description="Last day, inclusive; today.")] = None,
) -> TrendsOut:
    """Calls by the day they were first heard: how many, their mean overall and customer
    score, and how many ended up positive, neutral or negative. At most 366 days."""
    zone = await time_zone(session)
    today = day_of(zone, utcnow())
    last = to or today.day
    first = from_ or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise _invalid("from", "must not be after `to`")
    if (last - first).days + 1 > MAX_DAYS:
        raise _invalid("to", f"a range spans at most {MAX_DAYS} days")
    start = _midnight(first, today.zone)
    end = _midnight(last + timedelta(days=1), today.zone)
    groups = await trends(session, group_by, start, end, today.zone)
    return TrendsOut(group_by=group_by, from_=first, to=last, time_zone=today.zone, groups=groups)


def _midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, clock(0), tzinfo=ZoneInfo(zone))


def _invalid(field: str, message: str) -> RequestValidationError:
    return RequestValidationError(
        [{"loc": ("query", field), "msg": message, "type": "value_error", "input": None}]
    )
