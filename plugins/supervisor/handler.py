"""The ``supervisor`` call handler: drives supervisors' legs (target ``session:<id>``).

Answered, the leg joins the agent's conference in the session's mode (a tone when the
organization announces supervision); the session is then ``active``. When the leg ends, for
whatever reason, the session ends with it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from kernel import utcnow
from plugins.calls import (
    Call,
    CallHandler,
    CallStatus,
    CallTurn,
    Conference,
    Hangup,
    SupervisorRole,
)
from plugins.supervisor.events import SessionConnected
from plugins.supervisor.models import SessionStatus, SupervisionMode
from plugins.supervisor.sessions.service import (
    HANDLER,
    TARGET_PREFIX,
    announce,
    finish,
    locked_session,
    provider_call_id,
    publish,
)


class SupervisorHandler(CallHandler):
    name = HANDLER

    async def check_target(self, session: Any, target: str) -> str | None:
        if _session_id(target) is None:
            return f"not a supervision session ({TARGET_PREFIX}<id>)"
        return None

    async def start(self, turn: CallTurn) -> Sequence[Any]:
        session_id = _session_id(turn.call.target or "")
        row = await locked_session(turn.session, session_id) if session_id else None
        if row is None or row.status != SessionStatus.CONNECTING.value:
            turn.note("supervisor.session-over", target=turn.call.target or "")
            return [Hangup()]
        agent_leg = await turn.session.scalar(select(Call).where(Call.id == row.agent_call_id))
        if agent_leg is None or CallStatus(agent_leg.status) is not CallStatus.IN_PROGRESS:
            await finish(turn.platform, turn.session, row, "call_ended")
            turn.note("supervisor.call-over", session_id=str(row.id))
            return [Hangup()]
        row.status = SessionStatus.ACTIVE.value
        row.connected_at = utcnow()
        row.supervisor_call_id = row.supervisor_call_id or turn.call.id
        row.version += 1
        await publish(turn.platform, turn.session, row, SessionConnected)
        await announce(turn.platform, turn.session, row, "joined")
        mode = SupervisionMode(row.mode)
        coach = (
            await provider_call_id(turn.session, row.agent_call_id)
            if mode is SupervisionMode.WHISPER
            else None
        )
        turn.note("supervisor.joined", session_id=str(row.id), mode=mode.value)
        return [
            Conference(
                name=row.conference,
                supervisor=SupervisorRole(mode.value),
                coach_call_id=coach,
                start_on_enter=False,
                end_on_exit=False,
                beep=row.announced,
            )
        ]

    async def resume(self, turn: CallTurn) -> Sequence[Any] | None:
        return None

    async def ended(self, turn: CallTurn) -> None:
        session_id = _session_id(turn.call.target or "")
        row = await locked_session(turn.session, session_id) if session_id else None
        if row is None or row.status == SessionStatus.ENDED.value:
            return
        if row.connected_at is None:
            reason = "not_answered" if turn.call.status is not CallStatus.FAILED else "failed"
        else:
            parties = [row.agent_call_id, row.customer_call_id]
            statuses = await turn.session.scalars(
                select(Call.status).where(Call.id.in_([p for p in parties if p is not None]))
            )
            over = any(CallStatus(status).terminal for status in statuses)
            reason = "call_ended" if over else "supervisor"
        await finish(turn.platform, turn.session, row, reason)


def _session_id(target: str) -> uuid.UUID | None:
    if not target.startswith(TARGET_PREFIX):
        return None
    try:
        return uuid.UUID(target.removeprefix(TARGET_PREFIX))
    except ValueError:
        return None
