"""Routes of a campaign's figures, its compliance report and its calls' dispositions:
``/metrics`` (per UTC hour or day), ``/compliance-report`` (JSON or CSV, streamed) and
``PUT /attempts/{attempt_id}/disposition``. The totals come with the campaign itself
(``GET /campaigns/{id}``, ``metrics``)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime
from sqlalchemy import select

from kernel import (
    PlatformDep,
    Principal,
    ProblemError,
    SessionDep,
    current_tenant_id,
    problem_responses,
    record_audit_event,
    require,
    utcnow,
)
from plugins.agents import agent_scope
from plugins.campaigns import metrics, report, service
from plugins.campaigns.events import AttemptDisposed
from plugins.campaigns.models import Attempt, Outcome
from plugins.campaigns.permissions import (
    CAMPAIGNS_DISPOSITIONS_ALL,
    CAMPAIGNS_DISPOSITIONS_WRITE,
    CAMPAIGNS_REPORTS_READ,
)
from plugins.campaigns.problems import (
    ATTEMPT_NOT_ANSWERED,
    ATTEMPT_NOT_FOUND,
    ATTEMPT_NOT_YOURS,
    CAMPAIGN_NOT_FOUND,
    DISPOSITION_UNKNOWN,
    located,
)
from plugins.campaigns.schemas import (
    CampaignAttemptOut,
    CampaignComplianceReport,
    CampaignDispositionIn,
    CampaignMetricsOut,
)

router = APIRouter(tags=["campaigns"])

ReportReader = Annotated[
    Principal,
    Depends(require(CAMPAIGNS_REPORTS_READ.resource, CAMPAIGNS_REPORTS_READ.action)),
]
Disposer = Annotated[
    Principal,
    Depends(require(CAMPAIGNS_DISPOSITIONS_WRITE.resource, CAMPAIGNS_DISPOSITIONS_WRITE.action)),
]
From = Annotated[
    AwareDatetime | None,
    Query(alias="from", description="The span's start (inclusive), with its UTC offset."),
]
To = Annotated[
    AwareDatetime | None,
    Query(alias="to", description="The span's end (exclusive), with its UTC offset."),
]
DEFAULT_SPAN = {"hour": timedelta(hours=24), "day": timedelta(days=30)}


def _invalid(loc: str, message: str) -> RequestValidationError:
    """A 422 like every other (``validation-error``, ``errors`` with ``loc`` and ``message``)."""
    return RequestValidationError([{"loc": ("query", loc), "msg": message, "type": "value_error"}])


def _ordered(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and end <= start:
        raise _invalid("to", "`to` must come after `from`")


def _tenant(principal: Principal) -> uuid.UUID:
    """The tenant a streamed answer reads, taken now (it streams after the route returned)."""
    tenant_id = principal.tenant_id or current_tenant_id()
    assert tenant_id is not None  # require() scoped the request to a tenant
    return tenant_id


@router.get(
    "/{campaign_id}/metrics",
    response_model=CampaignMetricsOut,
    summary="A campaign's figures per hour or day",
    responses=problem_responses(CAMPAIGN_NOT_FOUND),
)
async def campaign_metrics(
    campaign_id: uuid.UUID,
    session: SessionDep,
    _: ReportReader,
    bucket: Annotated[Literal["hour", "day"], Query(description="UTC hours or UTC days.")] = "hour",
    start: From = None,
    end: To = None,
) -> CampaignMetricsOut:
    """Every UTC hour or day of the span (empty ones included), each with the attempts
    decided in it and what became of them: dials, blocked decisions, connects, people
    reached, right-party contacts, abandons and the average handle time. `from` is rounded
    down to its bucket's start, `to` is exclusive. By default the last 24 hours (`hour`) or
    30 days (`day`), the current one included; at most 31 days of hours or 366 days of days
    (422 otherwise)."""
    campaign = await service.get_campaign(session, campaign_id)
    end = end or metrics.floor(utcnow(), bucket) + metrics.BUCKETS[bucket]
    start = start or end - DEFAULT_SPAN[bucket]
    _ordered(start, end)
    if end - start > metrics.MAX_SPAN[bucket]:
        raise _invalid("from", f"at most {metrics.MAX_SPAN[bucket].days} days of {bucket}s at once")
    buckets = await metrics.bucketed(session, campaign, bucket=bucket, start=start, end=end)
    return CampaignMetricsOut(
        campaign_id=campaign.id,
        bucket=bucket,
        from_=metrics.floor(start, bucket),
        to=end,
        buckets=buckets,
    )


@router.get(
    "/{campaign_id}/compliance-report",
    response_class=StreamingResponse,
    summary="A campaign's compliance report (JSON or CSV)",
    responses={
        200: {
            "model": CampaignComplianceReport,
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "JSON (default) or CSV (`Accept: text/csv` or `format=csv`).",
        },
        **problem_responses(CAMPAIGN_NOT_FOUND),
    },
)
async def compliance_report(
    campaign_id: uuid.UUID,
    session: SessionDep,
    platform: PlatformDep,
    principal: ReportReader,
    start: From = None,
    end: To = None,
    format: Annotated[
        Literal["json", "csv"] | None,
        Query(description="`csv` or `json`; default: as `Accept` asks, else JSON."),
    ] = None,
    accept: Annotated[str | None, Header(max_length=1000)] = None,
) -> StreamingResponse:
    """Every attempt in decision order (filtered by `from`/`to` on the decision): the
    contact, the number dialled, the decision and every rule's verdict, what became of the
    call, the agent's connection, abandonment and the seconds from the answer to the
    safe-harbour message, the answering-machine action and the disposition; in JSON with the
    whole decision record and a summary of the abandons. Streamed."""
    _ordered(start, end)
    await service.get_campaign(session, campaign_id)
    tenant_id = _tenant(principal)
    wanted = format or ("csv" if "text/csv" in (accept or "") else "json")
    if wanted == "csv":
        return StreamingResponse(
            report.report_csv(
                platform, tenant_id=tenant_id, campaign_id=campaign_id, start=start, end=end
            ),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": (
                    f'attachment; filename="campaign-{campaign_id}-compliance.csv"'
                )
            },
        )
    return StreamingResponse(
        report.report_json(
            platform, tenant_id=tenant_id, campaign_id=campaign_id, start=start, end=end
        ),
        media_type="application/json",
    )


@router.put(
    "/{campaign_id}/attempts/{attempt_id}/disposition",
    response_model=CampaignAttemptOut,
    summary="Record an answered call's disposition",
    responses=problem_responses(
        CAMPAIGN_NOT_FOUND,
        ATTEMPT_NOT_FOUND,
        ATTEMPT_NOT_YOURS,
        DISPOSITION_UNKNOWN,
        ATTEMPT_NOT_ANSWERED,
    ),
)
async def dispose_attempt(
    campaign_id: uuid.UUID,
    attempt_id: uuid.UUID,
    body: CampaignDispositionIn,
    request: Request,
    session: SessionDep,
    platform: PlatformDep,
    principal: Disposer,
) -> CampaignAttemptOut:
    """What an answered call came to: one of the campaign's `dispositions` (422 otherwise)
    and an optional note. An agent disposes the calls connected to their own agent profile
    (403 otherwise); supervisors and administrators any. Sending it again replaces it (a
    correction); an attempt nobody answered is a 409."""
    campaign = await service.get_campaign(session, campaign_id)
    attempt = await session.scalar(
        select(Attempt)
        .where(Attempt.id == attempt_id, Attempt.campaign_id == campaign_id)
        .with_for_update()
    )
    if attempt is None:
        raise ProblemError(ATTEMPT_NOT_FOUND, f"the campaign has no attempt {attempt_id}")
    if not principal.can(CAMPAIGNS_DISPOSITIONS_ALL.resource, CAMPAIGNS_DISPOSITIONS_ALL.action):
        own = (await agent_scope(session, principal)).own_agent_id
        if own is None or attempt.agent_id != own:
            raise ProblemError(
                ATTEMPT_NOT_YOURS, "this call was not connected to your agent profile"
            )
    if body.disposition not in (campaign.dispositions or []):
        named = ", ".join(campaign.dispositions or []) or "none"
        message = f"not one of the campaign's dispositions ({named})"
        raise ProblemError(
            DISPOSITION_UNKNOWN,
            message,
            errors=located([{"loc": ["disposition"], "message": message}]),
        )
    answered = attempt.answered_at is not None or attempt.outcome in (
        Outcome.HUMAN.value,
        Outcome.MACHINE.value,
    )
    if not answered:
        raise ProblemError(
            ATTEMPT_NOT_ANSWERED,
            "nobody answered this attempt",
            attempt_status=attempt.status,
            outcome=attempt.outcome,
        )
    previous = attempt.disposition
    attempt.disposition = body.disposition
    attempt.note = body.note or None
    attempt.disposed_at = utcnow()
    attempt.disposed_by = _user_id(principal)
    await platform.events.publish(
        session,
        AttemptDisposed(
            campaign_id=campaign_id,
            attempt_id=attempt.id,
            contact_id=attempt.contact_id,
            attempt_no=attempt.attempt_no,
            disposition=body.disposition,
            previous_disposition=previous,
            has_note=bool(attempt.note),
            agent_id=attempt.agent_id,
            by=principal.subject,
        ),
    )
    record_audit_event(
        session,
        principal,
        "campaigns.attempt_disposed",
        request=request,
        target_type="campaign_attempt",
        target_id=attempt.id,
        details={"disposition": body.disposition, "previous": previous},
    )
    await session.commit()
    return CampaignAttemptOut.model_validate(attempt, from_attributes=True)


def _user_id(principal: Principal) -> uuid.UUID | None:
    """The user behind ``principal`` (None for an API key)."""
    if principal.kind != "user":
        return None
    try:
        return uuid.UUID(principal.subject)
    except ValueError:
        return None
