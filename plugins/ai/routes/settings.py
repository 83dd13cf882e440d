"""``/api/v1/ai/settings``: the organization's AI settings (providers and models per task,
fallback order, instructions, redaction, prompt logging, budget)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from sqlalchemy import select

from kernel import (
    PlatformDep,
    Principal,
    ProblemError,
    SessionDep,
    if_match_allows,
    problem_responses,
    record_audit_event,
    require,
)
from plugins.ai.models import AiSettingsRow
from plugins.ai.permissions import AI_SETTINGS_READ, AI_SETTINGS_WRITE
from plugins.ai.problems import SETTINGS_CHANGED, SETTINGS_INVALID
from plugins.ai.registry import ai_state
from plugins.ai.settings import AiSettingsIn, AiSettingsOut, cache_of, of_row, problems_of, save

router = APIRouter(tags=["ai"])

Reader = Annotated[Principal, Depends(require(AI_SETTINGS_READ.resource, AI_SETTINGS_READ.action))]
Writer = Annotated[
    Principal, Depends(require(AI_SETTINGS_WRITE.resource, AI_SETTINGS_WRITE.action))
]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=200,
        description="The settings' version (`ETag`) the change is based on; 412 if it moved on.",
    ),
]


@router.get("/settings", response_model=AiSettingsOut, summary="The organization's AI settings")
async def get_settings(_: Reader, session: SessionDep, response: Response) -> AiSettingsOut:
    """Never saved: the defaults (every task offline, redaction on, no budget), version 0."""
    settings = of_row(await session.scalar(select(AiSettingsRow)))
    response.headers["ETag"] = f'"{settings.version}"'
    return settings.out()


@router.put(
    "/settings",
    response_model=AiSettingsOut,
    summary="Replace the organization's AI settings",
    responses=problem_responses(SETTINGS_INVALID, SETTINGS_CHANGED),
)
async def put_settings(
    body: AiSettingsIn,
    principal: Writer,
    session: SessionDep,
    platform: PlatformDep,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> AiSettingsOut:
    """Every field is replaced (send what `GET` returned, changed). Routed and fallback
    providers must be loaded, routed tasks declared, redaction patterns valid and safe
    regular expressions. Send `If-Match` with the `ETag` you read (412 if it changed)."""
    errors = problems_of(body, ai_state(platform))
    if errors:
        raise ProblemError(SETTINGS_INVALID, errors[0]["message"], errors=errors)
    current = await session.scalar(select(AiSettingsRow).with_for_update())
    if not if_match_allows(if_match, current.version if current is not None else 0):
        raise ProblemError(SETTINGS_CHANGED)
    row = await save(session, body)
    record_audit_event(
        session,
        principal,
        "ai.settings_changed",
        request=request,
        target_type="ai_settings",
        details={
            "routes": {task: route.provider for task, route in body.routes.items()},
            "fallback": body.fallback,
            "redaction": body.redaction,
            "redaction_patterns": [p.name for p in body.redaction_patterns],
            "log_prompts": body.log_prompts,
            "monthly_budget": str(body.monthly_budget) if body.monthly_budget is not None else None,
            "version": row.version,
        },
    )
    await session.commit()
    if principal.tenant_id is not None:
        cache_of(platform).drop(principal.tenant_id)
    settings = of_row(row)
    response.headers["ETag"] = f'"{settings.version}"'
    return settings.out()
