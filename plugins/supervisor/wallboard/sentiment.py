"""The caller's sentiment on live calls, asked of other plugins (an AI plugin) through
``kraliki_supervisor_call_sentiment``; never required for the board."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform
from plugins.supervisor.wallboard.schemas import Sentiment

logger = logging.getLogger(__name__)

HOOK = "kraliki_supervisor_call_sentiment"
_ANSWER = TypeAdapter(dict[uuid.UUID, Sentiment])


async def call_sentiments(
    platform: Platform, session: AsyncSession, call_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Sentiment]:
    """Each call's sentiment from the first plugin that knows it; a plugin that raises or
    answers garbage is logged and left out. Call it after the board's own queries: a
    plugin's failed statement may leave the session unusable."""
    if not call_ids or not platform.hooks.implementers(HOOK):
        return {}
    asked = set(call_ids)
    found: dict[uuid.UUID, Sentiment] = {}
    answers = await platform.hooks.collect_isolated(
        HOOK, platform=platform, session=session, call_ids=list(call_ids)
    )
    for plugin, answer in answers:
        for call_id, sentiment in _valid(plugin, answer).items():
            if call_id in asked:
                found.setdefault(call_id, sentiment)
    return found


def _valid(plugin: str, answer: Any) -> dict[uuid.UUID, Sentiment]:
    try:
        if not isinstance(answer, Mapping):
            raise TypeError(f"a mapping of call ids, not {type(answer).__name__}")
        return _ANSWER.validate_python(
            {k: v.model_dump() if isinstance(v, Sentiment) else v for k, v in answer.items()}
        )
    except Exception as exc:
        logger.warning(
            "plugin %r answered %s with something other than sentiments per call: %s",
            plugin,
            HOOK,
            type(exc).__name__,
            extra={"plugin": plugin, "hook": HOOK},
        )
        return {}
