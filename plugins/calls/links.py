"""A call's ``links``: what other plugins relate to it (its contact...), asked of them
through ``kraliki_call_links`` once per answer, never required for it."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, Principal
from plugins.calls.models import Call

logger = logging.getLogger(__name__)

HOOK = "kraliki_call_links"
_ANSWER = TypeAdapter(dict[uuid.UUID, dict[str, Any]])
_NAMED = TypeAdapter(dict[str, Any])


async def call_links(
    platform: Platform, session: AsyncSession, principal: Principal, calls: Sequence[Call]
) -> dict[uuid.UUID, dict[str, Any]]:
    """Every plugin's links of ``calls``, merged per call (JSON values); a plugin that raises
    or answers garbage is logged and left out. Call it after the answer's own queries: a
    plugin's failed statement may leave the session unusable."""
    merged: dict[uuid.UUID, dict[str, Any]] = {call.id: {} for call in calls}
    if not calls:
        return merged
    answers = await platform.hooks.collect_isolated(
        HOOK, platform=platform, session=session, principal=principal, calls=list(calls)
    )
    for plugin, answer in answers:
        links = _valid(plugin, answer)
        for call_id, named in links.items():
            if call_id not in merged:
                continue  # a call it was not asked about
            for name, value in named.items():
                merged[call_id].setdefault(name, value)
    return merged


def _valid(plugin: str, answer: Any) -> dict[uuid.UUID, dict[str, Any]]:
    """The answer as JSON values per call id, or nothing (logged) when it is not one."""
    try:
        if not isinstance(answer, Mapping):
            raise TypeError(f"a mapping of call ids, not {type(answer).__name__}")
        checked = _ANSWER.validate_python(answer)
        return {
            call_id: _NAMED.dump_python(named, mode="json") for call_id, named in checked.items()
        }
    except Exception as exc:
        logger.warning(
            "plugin %r answered %s with something other than links per call: %s",
            plugin,
            HOOK,
            type(exc).__name__,
            extra={"plugin": plugin, "hook": HOOK},
        )
        return {}
