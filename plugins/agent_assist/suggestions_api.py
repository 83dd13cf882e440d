"""``/api/v1/agent-assist``: the suggestions made on a call and the feedback on them
(``agent_assist:use``). An agent reaches the suggestions made to them; a supervisor those of
the agents of the teams they lead; ``agents:all`` everyone's (the agents plugin's scoping)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status
from sqlalchemy import select

from kernel import Principal, ProblemError, SessionDep, problem_responses, require
from plugins.agent_assist.models import Feedback, Suggestion
from plugins.agent_assist.permissions import ASSIST_USE
from plugins.agent_assist.problems import CALL_NOT_FOUND, FEEDBACK_INVALID, SUGGESTION_NOT_FOUND
from plugins.agent_assist.schemas import AssistFeedbackIn, AssistFeedbackOut, AssistSuggestionOut
from plugins.agents import agent_scope
from plugins.calls import Call

router = APIRouter(tags=["agent_assist"])

User = Annotated[Principal, Depends(require(ASSIST_USE.resource, ASSIST_USE.action))]
LIMIT = 50


@router.get(
    "/calls/{call_id}/suggestions",
    response_model=list[AssistSuggestionOut],
    summary="The suggestions made on a call",
    responses=problem_responses(CALL_NOT_FOUND),
)
async def call_suggestions(
    call_id: uuid.UUID, principal: User, session: SessionDep
) -> list[AssistSuggestionOut]:
    """Newest first (at most 50), only those made to agents you reach: an empty list for a
    call you have nothing of; 404 for a call your organization does not have."""
    if await session.scalar(select(Call.id).where(Call.id == call_id)) is None:
        raise ProblemError(CALL_NOT_FOUND)
    scope = await agent_scope(session, principal)
    statement = select(Suggestion).where(Suggestion.call_id == call_id)
    if not scope.all:
        statement = statement.where(Suggestion.agent_id.in_(sorted(scope.agent_ids)))
    rows = await session.scalars(
        statement.order_by(Suggestion.created_at.desc(), Suggestion.id).limit(LIMIT)
    )
    return [AssistSuggestionOut.of(row) for row in rows]


@router.post(
    "/suggestions/{suggestion_id}/feedback",
    response_model=AssistFeedbackOut,
    status_code=status.HTTP_201_CREATED,
    summary="Say whether a suggestion helped",
    responses={
        200: {"description": "Your earlier feedback on it, changed.", "model": AssistFeedbackOut},
        **problem_responses(SUGGESTION_NOT_FOUND, FEEDBACK_INVALID),
    },
)
async def give_feedback(
    suggestion_id: uuid.UUID,
    body: AssistFeedbackIn,
    principal: User,
    session: SessionDep,
    response: Response,
) -> AssistFeedbackOut:
    """`useful` (true, false, or null: no opinion) and `used` (you said it or sent it) on
    one of its articles (`article_id`), or without one on the suggested reply, which comes
    from its first article and counts for it. One feedback per person, suggestion and
    article: sending again changes it (200). Future suggestions for the organization are
    re-ranked by it."""
    suggestion = await session.scalar(select(Suggestion).where(Suggestion.id == suggestion_id))
    scope = await agent_scope(session, principal)
    if suggestion is None or not scope.covers(suggestion.agent_id):
        raise ProblemError(SUGGESTION_NOT_FOUND)
    listed = [uuid.UUID(str(a["id"])) for a in suggestion.articles or []]
    article_id = body.article_id
    if article_id is None:
        article_id = listed[0] if listed else None
    elif article_id not in listed:
        raise ProblemError(FEEDBACK_INVALID, "article_id is not one of the suggestion's articles")
    same_article = (
        Feedback.article_id.is_(None) if article_id is None else Feedback.article_id == article_id
    )
    row = await session.scalar(
        select(Feedback)
        .where(
            Feedback.suggestion_id == suggestion.id,
            same_article,
            Feedback.given_by == principal.subject,
        )
        .with_for_update()
    )
    if row is None:
        row = Feedback(
            suggestion_id=suggestion.id,
            article_id=article_id,
            useful=body.useful,
            used=body.used,
            given_by=principal.subject,
        )
        session.add(row)
    else:
        if "useful" in body.model_fields_set:
            row.useful = body.useful
        row.used = row.used or body.used
        response.status_code = status.HTTP_200_OK
    await session.flush()
    out = AssistFeedbackOut(
        id=row.id,
        suggestion_id=row.suggestion_id,
        article_id=row.article_id,
        useful=row.useful,
        used=row.used,
        given_by=row.given_by,
        created_at=row.created_at,
    )
    await session.commit()
    return out
