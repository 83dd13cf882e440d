"""Live sentiment: score the transcript segments of a batch of events as they arrive.

The batch hook (``kraliki_events``) gets up to a batch of one tenant's events at once: its
segments are scored through the gateway outside any transaction, then written and published
in one transaction (segments stored already, a redelivery, are left out there).
A segment whose scoring fails is logged and left out (``analyze`` can score it later): a
failure here never touches the call.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence

from kernel import DeliveredEvent, Platform
from plugins.sentiment.attribution import from_event
from plugins.sentiment.scoring import score_text
from plugins.sentiment.speakers import role_of
from plugins.sentiment.store import ScoredSegment, attribute_from_events, record

logger = logging.getLogger(__name__)

TRANSCRIBED = "calls.call.transcribed"


async def on_events(platform: Platform, events: Sequence[DeliveredEvent]) -> None:
    segments = [e for e in events if e.name == TRANSCRIBED and _scorable(e)]
    attributions: dict[uuid.UUID, dict[str, uuid.UUID]] = {}
    for event in events:
        named = from_event(event)
        if named is not None:
            attributions.setdefault(named[0], {}).update(named[1])
    if not segments and not attributions:
        return
    fresh = _unscored(segments) if segments else []
    judged = await asyncio.gather(*(_score(platform, e) for e in fresh))
    scored = [s for s in judged if s is not None]
    async with platform.database.session() as session:
        await record(platform, session, scored)
        if attributions:
            await attribute_from_events(session, attributions)
        await session.commit()


def _scorable(event: DeliveredEvent) -> bool:
    payload = event.payload
    return (
        payload.get("final", True) is not False
        and bool(str(payload.get("text") or "").strip())
        and payload.get("segment_id") is not None
    )


def _unscored(events: list[DeliveredEvent]) -> list[DeliveredEvent]:
    """One event per segment (a batch may hold a redelivery); the segments stored already are
    left out when writing, under the call's lock."""
    fresh: dict[str, DeliveredEvent] = {}
    for event in events:
        fresh.setdefault(str(event.payload["segment_id"]), event)
    return list(fresh.values())


async def _score(platform: Platform, event: DeliveredEvent) -> ScoredSegment | None:
    payload = event.payload
    try:
        judged = await score_text(platform, str(payload["text"]))
    except Exception:  # a model that fails must never break anything else
        logger.warning(
            "sentiment: could not score segment %s of call %s",
            payload.get("segment_id"),
            payload.get("call_id"),
            exc_info=True,
        )
        return None
    speaker = str(payload.get("speaker") or "unknown")
    return ScoredSegment(
        call_id=uuid.UUID(str(payload["call_id"])),
        segment_id=uuid.UUID(str(payload["segment_id"])),
        event_id=event.id,
        speaker=speaker,
        role=role_of(speaker, payload.get("direction")),
        score=judged.score,
        label=judged.label,
        offset_seconds=_float(payload.get("start_seconds")),
        model=judged.model,
        at=event.occurred_at,
    )


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None
