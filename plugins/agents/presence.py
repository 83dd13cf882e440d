"""The presence state machine: which state may follow which, and who may move it.

Every change goes through :func:`change_state`, whoever causes it (the agent, routing, a
supervisor, a timer): it checks the transition against :data:`TRANSITIONS`, keeps the
row's timing fields right (idle since, wrap-up until), writes the history row, publishes
``agents.agent.state_changed`` and tells other plugins (``kraliki_agent_state_changed``),
all in the caller's transaction. The caller holds the agent's row lock (``get_agent(...,
for_update=True)`` or a routing claim), so two changes of one agent never interleave.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import HookCallError, Platform, utcnow
from plugins.agents.events import AgentStateChanged
from plugins.agents.models import MISSED, Agent, AgentState, ReasonCode, StateChange

logger = logging.getLogger(__name__)

Cause = Literal["agent", "routing", "supervisor", "timeout", "system"]
S = AgentState

_AGENT_CHOICES = {S.OFFLINE, S.AVAILABLE, S.AWAY}
"""The states an agent (or a supervisor) may choose; the others belong to routing."""

TRANSITIONS: dict[str, frozenset[tuple[AgentState, AgentState]]] = {
    "agent": frozenset(
        {(a, b) for a in (S.OFFLINE, S.AVAILABLE, S.AWAY, S.WRAP_UP) for b in _AGENT_CHOICES}
        - {(S.OFFLINE, S.OFFLINE), (S.AVAILABLE, S.AVAILABLE)}
        | {(S.RESERVED, S.AWAY)}  # declining an offer
    ),
    "supervisor": frozenset(
        {(a, b) for a in (S.OFFLINE, S.AVAILABLE, S.AWAY, S.WRAP_UP) for b in _AGENT_CHOICES}
        - {(S.OFFLINE, S.OFFLINE), (S.AVAILABLE, S.AVAILABLE)}
    ),
    "routing": frozenset(
        {
            (S.AVAILABLE, S.RESERVED),
            (S.RESERVED, S.ON_CALL),
            (S.RESERVED, S.AVAILABLE),  # the offer was withdrawn (the caller hung up)
            (S.RESERVED, S.AWAY),  # missed or declined
            (S.ON_CALL, S.WRAP_UP),
            (S.ON_CALL, S.AVAILABLE),  # no wrap-up time
            (S.WRAP_UP, S.AVAILABLE),
            (S.WRAP_UP, S.RESERVED),  # an outbound seat's next call, straight after wrap-up
        }
    ),
    "timeout": frozenset({(S.RESERVED, S.AWAY), (S.WRAP_UP, S.AVAILABLE)}),
    "system": frozenset({(a, S.OFFLINE) for a in S if a is not S.OFFLINE}),
}


class TransitionRefused(Exception):
    """The change is not allowed from the agent's current state (or needs a reason code)."""

    def __init__(self, message: str, *, from_state: str, to_state: str) -> None:
        super().__init__(message)
        self.from_state = from_state
        self.to_state = to_state


def allowed(cause: Cause, from_state: AgentState, to_state: AgentState) -> bool:
    if from_state is S.AWAY and to_state is S.AWAY:
        return cause in ("agent", "supervisor")  # a new reason code
    return (from_state, to_state) in TRANSITIONS[cause]


async def valid_reason(session: AsyncSession, code: str) -> bool:
    """Whether ``code`` is one of the tenant's active reason codes (``missed`` always is)."""
    if code == MISSED:
        return True
    found = await session.scalar(
        select(ReasonCode.id).where(ReasonCode.code == code, ReasonCode.active.is_(True))
    )
    return found is not None


async def change_state(
    platform: Platform,
    session: AsyncSession,
    agent: Agent,
    to_state: AgentState,
    *,
    cause: Cause,
    reason_code: str | None = None,
    actor: str | None = None,
    call_id: uuid.UUID | None = None,
    queue_id: uuid.UUID | None = None,
    wrap_up_seconds: float | None = None,
    now: datetime | None = None,
) -> StateChange:
    """Move ``agent`` (whose row the caller has locked) to ``to_state``.

    ``reason_code`` is required for ``away`` (routing and timeouts use ``missed``);
    ``call_id`` names the call for ``reserved``/``on_call``/``wrap_up``;
    ``wrap_up_seconds`` sets when wrap-up ends. Raises :class:`TransitionRefused`.
    """
    from_state = AgentState(agent.state)
    if not allowed(cause, from_state, to_state):
        raise TransitionRefused(
            f"{cause} cannot move an agent from {from_state.value} to {to_state.value}",
            from_state=from_state.value,
            to_state=to_state.value,
        )
    if to_state is S.AWAY:
        code = reason_code or (MISSED if cause in ("routing", "timeout") else None)
        if code is None or not await valid_reason(session, code):
            raise TransitionRefused(
                "away needs one of the organization's reason codes"
                if code is None
                else f"{code!r} is not one of the organization's active reason codes",
                from_state=from_state.value,
                to_state=to_state.value,
            )
        reason_code = code
    else:
        reason_code = None
    at = now or utcnow()
    seconds = max(0.0, (at - agent.state_since).total_seconds())
    previous_call = agent.current_call_id  # leaving a call clears it; the history keeps it
    _apply(agent, to_state, reason_code, call_id, wrap_up_seconds, at)
    change = StateChange(
        agent_id=agent.id,
        from_state=from_state.value,
        to_state=to_state.value,
        reason_code=reason_code,
        cause=cause,
        actor=actor,
        call_id=call_id if call_id is not None else agent.current_call_id or previous_call,
        queue_id=queue_id,
        seconds_in_previous=seconds,
        occurred_at=at,
    )
    session.add(change)
    await platform.events.publish(
        session,
        AgentStateChanged(
            agent_id=agent.id,
            user_id=agent.user_id,
            from_state=from_state.value,
            to_state=to_state.value,
            reason_code=reason_code,
            cause=cause,
            actor=actor,
            call_id=change.call_id,
            queue_id=queue_id,
            seconds_in_previous=round(seconds, 3),
            state_version=agent.state_version,
        ),
    )
    await _tell_plugins(platform, session, agent, change)
    return change


def _apply(
    agent: Agent,
    to_state: AgentState,
    reason_code: str | None,
    call_id: uuid.UUID | None,
    wrap_up_seconds: float | None,
    at: datetime,
) -> None:
    agent.state = to_state.value
    agent.reason_code = reason_code
    agent.state_since = at
    agent.state_version += 1
    agent.wrap_up_until = None
    if to_state is S.AVAILABLE:
        agent.idle_since = at
        agent.current_call_id = None
    elif to_state is S.RESERVED:
        agent.last_offered_at = at
        agent.current_call_id = call_id
    elif to_state is S.ON_CALL:
        agent.current_call_id = call_id or agent.current_call_id
    elif to_state is S.WRAP_UP:
        agent.wrap_up_until = at + timedelta(seconds=wrap_up_seconds or 0)
    else:
        agent.current_call_id = None


async def _tell_plugins(
    platform: Platform, session: AsyncSession, agent: Agent, change: StateChange
) -> None:
    """``kraliki_agent_state_changed`` under a savepoint: an implementation that fails is
    logged, what the implementations wrote is undone, and the state change stands."""
    try:
        async with session.begin_nested():
            await platform.hooks.collect(
                "kraliki_agent_state_changed",
                platform=platform,
                session=session,
                agent=agent,
                change=change,
            )
    except HookCallError:
        logger.exception("a plugin failed on agent %s's state change", agent.id)
