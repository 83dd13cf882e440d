"""Routes of campaign management: the original backend's campaign router (list, get, create,
update, delete, activate, deactivate), plus complete and archive."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response, status
from sqlalchemy import select

from kernel import (
    CursorPage,
    PageParamsDep,
    PlatformDep,
    Principal,
    ProblemType,
    SessionDep,
    paginate,
    problem_responses,
    record_audit_event,
    require,
)
from plugins.campaigns import lifecycle, metrics, predial, service
from plugins.campaigns.events import CampaignCreated, CampaignDeleted, CampaignUpdated
from plugins.campaigns.models import (
    Attempt,
    AttemptStatus,
    Campaign,
    CampaignSettingsRow,
    CampaignState,
    Mode,
)
from plugins.campaigns.permissions import CAMPAIGNS_ACTIVATE, CAMPAIGNS_READ, CAMPAIGNS_WRITE
from plugins.campaigns.problems import (
    CAMPAIGN_CHANGED,
    CAMPAIGN_EXISTS,
    CAMPAIGN_INVALID,
    CAMPAIGN_LOCKED,
    CAMPAIGN_NOT_FOUND,
    CANNOT_ACTIVATE,
    TRANSITION_REFUSED,
)
from plugins.campaigns.schemas import (
    CampaignAttemptOut,
    CampaignCheckIn,
    CampaignCheckOut,
    CampaignCreate,
    CampaignOut,
    CampaignPatch,
    CampaignStateChange,
    CampaignWindowSettings,
    sent_fields,
)

fixed_router = APIRouter(tags=["campaigns"])
"""Paths that would otherwise be read as a campaign id (``/settings``): mounted first."""
router = APIRouter(tags=["campaigns"])

Reader = Annotated[Principal, Depends(require(CAMPAIGNS_READ.resource, CAMPAIGNS_READ.action))]
Writer = Annotated[Principal, Depends(require(CAMPAIGNS_WRITE.resource, CAMPAIGNS_WRITE.action))]
Activator = Annotated[
    Principal, Depends(require(CAMPAIGNS_ACTIVATE.resource, CAMPAIGNS_ACTIVATE.action))
]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=200,
        description="The campaign's version (`ETag`) the change is based on; 412 if it moved on.",
    ),
]
ONE = problem_responses(CAMPAIGN_NOT_FOUND)
MOVE = problem_responses(CAMPAIGN_NOT_FOUND, CAMPAIGN_CHANGED, TRANSITION_REFUSED)


def _tagged(response: Response, campaign: Campaign) -> None:
    response.headers["ETag"] = f'"{campaign.version}"'


async def _one(session: SessionDep, campaign: Campaign) -> CampaignOut:
    """One campaign, with its figures (lists leave them out: they cost a scan of the
    campaign's attempts)."""
    out = (await service.campaign_outs(session, [campaign]))[0]
    out.metrics = await metrics.campaign_metric(session, campaign)
    return out


def _common(campaign: Campaign) -> dict[str, object]:
    return {
        "campaign_id": campaign.id,
        "mode": campaign.mode,
        "state": campaign.state,
        "revision": campaign.version,
    }


@router.post(
    "",
    response_model=CampaignOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create a campaign",
    responses=problem_responses(CAMPAIGN_INVALID, CAMPAIGN_EXISTS),
)
async def create_campaign(
    body: CampaignCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    platform: PlatformDep,
    principal: Writer,
) -> CampaignOut:
    """A campaign starts as a `draft`: nothing is dialled until it is activated. Every value
    that cannot be accepted is listed in one 422."""
    campaign = await service.create_campaign(session, values=sent_fields(body))
    await platform.events.publish(session, CampaignCreated(**_common(campaign)))
    record_audit_event(
        session,
        principal,
        "campaigns.campaign_created",
        request=request,
        target_type="campaign",
        target_id=campaign.id,
    )
    await session.commit()
    response.headers["Location"] = f"/api/v1/campaigns/{campaign.id}"
    _tagged(response, campaign)
    return await _one(session, campaign)


@router.get("", response_model=CursorPage[CampaignOut], summary="List campaigns")
async def list_campaigns(
    _: Reader,
    session: SessionDep,
    page: PageParamsDep,
    state: Annotated[CampaignState | None, Query(description="Only campaigns in this state.")] = (
        None
    ),
    mode: Annotated[Mode | None, Query(description="Only campaigns of this mode.")] = None,
    q: Annotated[str | None, Query(max_length=100, description="Text in the name.")] = None,
) -> CursorPage[CampaignOut]:
    """By name."""
    query = select(Campaign)
    if state is not None:
        query = query.where(Campaign.state == state.value)
    if mode is not None:
        query = query.where(Campaign.mode == mode.value)
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Campaign.name.ilike(f"%{escaped}%", escape="\\"))
    rows, cursor = await paginate(
        session, query, order_by=[Campaign.name, Campaign.id], params=page, descending=False
    )
    return CursorPage(items=await service.campaign_outs(session, rows), next_cursor=cursor)


@router.get("/{campaign_id}", response_model=CampaignOut, summary="A campaign", responses=ONE)
async def get_campaign(
    campaign_id: uuid.UUID, response: Response, session: SessionDep, _: Reader
) -> CampaignOut:
    campaign = await service.get_campaign(session, campaign_id)
    _tagged(response, campaign)
    return await _one(session, campaign)


@router.patch(
    "/{campaign_id}",
    response_model=CampaignOut,
    summary="Change a campaign",
    responses=problem_responses(
        CAMPAIGN_NOT_FOUND, CAMPAIGN_CHANGED, CAMPAIGN_INVALID, CAMPAIGN_EXISTS, CAMPAIGN_LOCKED
    ),
)
async def patch_campaign(
    campaign_id: uuid.UUID,
    body: CampaignPatch,
    request: Request,
    response: Response,
    session: SessionDep,
    platform: PlatformDep,
    principal: Writer,
    if_match: IfMatch = None,
) -> CampaignOut:
    """Only the fields sent change (`source` replaces the list). While the campaign is active,
    what decides who is called and on what grounds is fixed (409 naming the fields: pause it
    first) and its caps may only get stricter; a completed or archived campaign no longer
    changes. Send `If-Match` with the `ETag` you read (412 if it changed meanwhile)."""
    campaign, changed = await service.update_campaign(
        session, campaign_id=campaign_id, values=sent_fields(body), if_match=if_match
    )
    if changed:
        await platform.events.publish(
            session,
            CampaignUpdated(**_common(campaign), fields=changed),
        )
        record_audit_event(
            session,
            principal,
            "campaigns.campaign_updated",
            request=request,
            target_type="campaign",
            target_id=campaign.id,
            details={"fields": changed},
        )
    await session.commit()
    _tagged(response, campaign)
    return await _one(session, campaign)


@router.delete(
    "/{campaign_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a draft campaign",
    responses=problem_responses(CAMPAIGN_NOT_FOUND, CAMPAIGN_CHANGED, CAMPAIGN_LOCKED),
)
async def delete_campaign(
    campaign_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    platform: PlatformDep,
    principal: Writer,
    if_match: IfMatch = None,
) -> Response:
    """Only a draft (409 otherwise): a campaign that dialled keeps its records, archive it."""
    campaign = await service.delete_campaign(session, campaign_id=campaign_id, if_match=if_match)
    await platform.events.publish(session, CampaignDeleted(**_common(campaign)))
    record_audit_event(
        session,
        principal,
        "campaigns.campaign_deleted",
        request=request,
        target_type="campaign",
        target_id=campaign_id,
    )
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _state_route(action: str, summary: str, doc: str, extra: tuple[ProblemType, ...] = ()) -> None:
    """``POST /{campaign_id}/<action>``: one of the campaign's state changes."""

    async def change(
        campaign_id: uuid.UUID,
        request: Request,
        response: Response,
        session: SessionDep,
        platform: PlatformDep,
        principal: Activator,
        body: Annotated[CampaignStateChange | None, Body()] = None,
        if_match: IfMatch = None,
    ) -> CampaignOut:
        reason = body.reason if body else ""
        moved = await lifecycle.transition(
            platform,
            session,
            campaign_id=campaign_id,
            action=action,
            by=principal.subject,
            reason=reason,
            if_match=if_match,
        )
        record_audit_event(
            session,
            principal,
            f"campaigns.campaign_{action}d",
            request=request,
            target_type="campaign",
            target_id=campaign_id,
            details={"from": moved.previous.value, "to": moved.campaign.state, "reason": reason},
        )
        await session.commit()
        _tagged(response, moved.campaign)
        return await _one(session, moved.campaign)

    change.__doc__ = doc
    change.__name__ = f"{action}_campaign"
    router.post(
        f"/{{campaign_id}}/{action}",
        response_model=CampaignOut,
        summary=summary,
        responses={**MOVE, **problem_responses(*extra)},
    )(change)


_state_route(
    "activate",
    "Activate a campaign",
    "From `draft` or `paused`: the dialer starts (or resumes) calling. 422 lists what keeps "
    "the campaign from dialling lawfully (no contacts, a caller id that is no longer yours, a "
    "predictive campaign without its abandoned-call message, an ended schedule).",
    (CANNOT_ACTIVATE, CAMPAIGN_INVALID),
)
_state_route(
    "deactivate",
    "Pause a campaign",
    "From `active`: no new calls; calls in progress finish. `activate` resumes it.",
)
_state_route(
    "complete",
    "Complete a campaign",
    "From `active` or `paused`: the campaign is over; it no longer changes.",
)
_state_route(
    "archive",
    "Archive a campaign",
    "From `draft`, `paused` or `completed`: kept with its records, out of the way.",
)


@fixed_router.get(
    "/settings", response_model=CampaignWindowSettings, summary="Calling-window rules"
)
async def get_settings(_: Reader, session: SessionDep) -> CampaignWindowSettings:
    """The organization's calling-window rules (the legal window alone until set)."""
    return CampaignWindowSettings(window_rules=await predial.window_rules(session))


@fixed_router.put(
    "/settings", response_model=CampaignWindowSettings, summary="Change the calling-window rules"
)
async def put_settings(
    body: CampaignWindowSettings, request: Request, session: SessionDep, principal: Writer
) -> CampaignWindowSettings:
    """Replace the rules. A window that starts before 08:00 or ends after 21:00 is a 422:
    rules may only be stricter than the law. Every later dial is judged by them."""
    row = await session.scalar(select(CampaignSettingsRow).with_for_update())
    if row is None:
        row = CampaignSettingsRow()
        session.add(row)
    row.window_rules = body.window_rules.model_dump(mode="json")
    record_audit_event(
        session,
        principal,
        "campaigns.settings_changed",
        request=request,
        target_type="campaigns_settings",
    )
    await session.commit()
    return body


@router.post(
    "/{campaign_id}/check",
    response_model=CampaignCheckOut,
    summary="Check a dial",
    responses=ONE,
)
async def check_dial(
    campaign_id: uuid.UUID,
    body: CampaignCheckIn,
    session: SessionDep,
    platform: PlatformDep,
    _: Reader,
) -> CampaignCheckOut:
    """Would the campaign be allowed to call this contact now (or at `at`)? The same decision
    the dialer takes before every dial, every rule's record included: the campaign's state
    and hours, the calling window in the person's local time, do-not-call, opt-out and
    consent for the campaign's purpose. Nothing is dialled or recorded."""
    campaign = await service.get_campaign(session, campaign_id)
    decision = await predial.check_dial(
        platform, session, campaign, body.contact_id, number=body.number, at=body.at
    )
    return CampaignCheckOut.model_validate(decision.as_record())


@router.get(
    "/{campaign_id}/attempts",
    response_model=CursorPage[CampaignAttemptOut],
    summary="List a campaign's attempts",
    responses=ONE,
)
async def list_attempts(
    campaign_id: uuid.UUID,
    _: Reader,
    session: SessionDep,
    page: PageParamsDep,
    status: Annotated[AttemptStatus | None, Query(description="Only attempts in this status.")] = (
        None
    ),
    contact_id: Annotated[uuid.UUID | None, Query(description="Only this contact's.")] = None,
    allowed: Annotated[
        bool | None, Query(description="Only allowed (true) or blocked (false) decisions.")
    ] = None,
) -> CursorPage[CampaignAttemptOut]:
    """Every decision the dialer took for the campaign, newest first, each with the record
    of every rule it checked and, once dialled, its call and outcome."""
    await service.get_campaign(session, campaign_id)
    query = select(Attempt).where(Attempt.campaign_id == campaign_id)
    if status is not None:
        query = query.where(Attempt.status == status.value)
    if contact_id is not None:
        query = query.where(Attempt.contact_id == contact_id)
    if allowed is not None:
        query = query.where(Attempt.allowed.is_(allowed))
    rows, cursor = await paginate(
        session, query, order_by=[Attempt.decided_at, Attempt.id], params=page
    )
    return CursorPage(
        items=[CampaignAttemptOut.model_validate(row, from_attributes=True) for row in rows],
        next_cursor=cursor,
    )
