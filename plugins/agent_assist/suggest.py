"""Live suggestions: a customer's transcript segment on a call an agent is on becomes the
best articles (searched with the last few customer segments, re-ranked by feedback) and a
suggested reply from the gateway, stored and announced to that agent
(``agent_assist.suggestion.created``).

Which agent: the agents plugin's ``Agent.current_call_id`` is the customer's call while the
agent is ``on_call``; a segment on any other call (the agent's own leg, a call nobody
answered) is not the customer talking to an agent, and is left alone. Delivery is at least
once: a suggestion is keyed by the event's id (a unique index), and an event already
answered is skipped. Articles suggested on the same call in the last two minutes are not
suggested again.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import DeliveredEvent, Platform, utcnow
from plugins.agent_assist import embeddings
from plugins.agent_assist.events import SuggestionCreated
from plugins.agent_assist.live import LIVE
from plugins.agent_assist.models import Suggestion
from plugins.agent_assist.ranking import rerank
from plugins.agent_assist.reply import SYSTEM, TASK, SuggestedReply, prompt_of
from plugins.agent_assist.schemas import jsonable_articles
from plugins.agent_assist.search import search
from plugins.agents import Agent, AgentState
from plugins.ai import complete
from plugins.calls import TranscriptSegmentRow

logger = logging.getLogger(__name__)

TRANSCRIBED = "calls.call.transcribed"
WINDOW_SEGMENTS = 3
"""The customer's last segments searched with (the newest included)."""
REPEAT_SECONDS = 120
TOP = 3
CANDIDATES = 10
NOT_CUSTOMER = frozenset({"agent"})


async def on_events(platform: Platform, events: Sequence[DeliveredEvent]) -> None:
    """Hand each customer segment to this worker's live suggestions (``live.py``) and
    return: the hooks' pass never waits for a model."""
    live = LIVE.get(platform)
    for event in events:
        if event.name != TRANSCRIBED:
            continue
        payload = event.payload
        if payload.get("speaker") in NOT_CUSTOMER or not payload.get("final", True):
            continue
        live.submit(str(payload.get("call_id")), functools.partial(_suggest, platform, event))


async def _suggest(platform: Platform, event: DeliveredEvent) -> None:
    try:
        await suggest(platform, event)
    except Exception:  # one segment's trouble never stops the others
        logger.exception("agent_assist: no suggestion for event %s", event.id)


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


async def suggest(platform: Platform, event: DeliveredEvent) -> Suggestion | None:
    """The suggestion for one segment, or None (no agent on the call, nothing relevant,
    nothing new, or already made)."""
    call_id = _uuid(event.payload.get("call_id"))
    if call_id is None:
        return None
    async with platform.database.session() as session:
        if await session.scalar(select(Suggestion.id).where(Suggestion.event_id == event.id)):
            return None
        agent_id = await session.scalar(
            select(Agent.id).where(
                Agent.current_call_id == call_id, Agent.state == AgentState.ON_CALL.value
            )
        )
        if agent_id is None:
            return None
        said = await _window(session, call_id, _uuid(event.payload.get("segment_id")))
        said = said or str(event.payload.get("text") or "")
        searched = await search(
            session, said, limit=CANDIDATES, every_term=False, platform=platform
        )
        if searched.short_of_vectors and await embeddings.ask_for_vectors(platform, session):
            await session.commit()
        found = searched.hits
        if not found:
            return None
        since = utcnow() - timedelta(seconds=REPEAT_SECONDS)
        recent = await session.scalars(
            select(Suggestion.articles).where(
                Suggestion.call_id == call_id, Suggestion.created_at >= since
            )
        )
        shown = {str(a["id"]) for articles in recent for a in articles or []}
        ranked = [pair for pair in await rerank(session, found) if str(pair[0].id) not in shown]
        top = ranked[:TOP]
        if not top:
            return None
        sources = [(article.title, article.body) for article, _ in top]
        articles = jsonable_articles(top)
    reply, provider, model = await _reply(platform, said, sources)
    async with platform.database.session() as session:
        row = Suggestion(
            call_id=call_id,
            agent_id=agent_id,
            event_id=event.id,
            segment_text=said[:4000],
            articles=articles,
            reply=reply,
            provider=provider,
            model=model,
        )
        session.add(row)
        try:
            await session.flush()
        except IntegrityError:  # another worker answered this event meanwhile
            await session.rollback()
            return None
        await platform.events.publish(
            session,
            SuggestionCreated(
                suggestion_id=row.id,
                call_id=call_id,
                agent_id=agent_id,
                article_ids=[uuid.UUID(a["id"]) for a in articles],
            ),
        )
        await session.commit()
        return row


async def _window(session: AsyncSession, call_id: uuid.UUID, segment_id: uuid.UUID | None) -> str:
    """The customer's last segments up to this one, oldest first."""
    statement = select(TranscriptSegmentRow).where(
        TranscriptSegmentRow.call_id == call_id,
        TranscriptSegmentRow.speaker.not_in(NOT_CUSTOMER),
        TranscriptSegmentRow.final.is_(True),
    )
    if segment_id is not None:
        at = await session.scalar(
            select(TranscriptSegmentRow.recorded_at).where(TranscriptSegmentRow.id == segment_id)
        )
        if at is not None:
            statement = statement.where(TranscriptSegmentRow.recorded_at <= at)
    rows = list(
        await session.scalars(
            statement.order_by(TranscriptSegmentRow.recorded_at.desc()).limit(WINDOW_SEGMENTS)
        )
    )
    return " ".join(row.text.strip() for row in reversed(rows))


async def _reply(
    platform: Platform, said: str, sources: list[tuple[str, str]]
) -> tuple[str, str, str]:
    """The gateway's suggested reply (empty when the gateway fails: the articles still help)."""
    try:
        answer = await complete(
            platform,
            plugin="agent_assist",
            task=TASK,
            prompt=prompt_of(said, sources),
            output=SuggestedReply,
            system=SYSTEM,
            max_output_tokens=300,
        )
    except Exception:
        logger.warning("agent_assist: the gateway gave no reply", exc_info=True)
        return "", "", ""
    reply = answer.parsed.reply if answer.parsed is not None else answer.text
    return reply.strip()[:2000], answer.provider, answer.model
