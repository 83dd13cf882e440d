"""The public API of the ``agents`` plugin: what other plugins (queues, supervisor, campaigns)
may import. Everything else in ``plugins.agents`` is private.

* the tables other plugins read and lock (routing claims an :class:`Agent` row with
  ``SELECT ... FOR UPDATE SKIP LOCKED``): :class:`Agent`, :class:`AgentSkill`,
  :class:`TeamMember`, :class:`TeamSupervisor`, :class:`HandledCall`;
* the presence state machine: :func:`change_state` (the only way to change a state);
* making an agent as the API does: :func:`create_agent`;
* ringing an agent: :func:`leg_address` and :func:`leg_options` of the agent's leg;
* who reaches which agents: :func:`agent_scope` (an :class:`AgentScope`), the line every
  view of agents draws (queues' live views, the supervisor's screens);
* the permissions, for plugins that grant or check them;
* where an agent's live conversation is (the conference a supervisor joins):
  :func:`agent_conversation`, a :class:`Conversation` (``kraliki_agent_conversation``);
* :class:`AgentPagePanel`: a panel a plugin adds to the agent page
  (``kraliki_agent_page_panels``), and :func:`panel_files_router` to serve its files.

See ``docs/plugins/agents.md``.
"""

from __future__ import annotations

from plugins.agents.conversation import Conversation, agent_conversation
from plugins.agents.making import create_agent
from plugins.agents.models import (
    MISSED,
    Agent,
    AgentSettingsRow,
    AgentSkill,
    AgentState,
    HandledCall,
    ReachKind,
    ReasonCode,
    StateChange,
    Team,
    TeamMember,
    TeamSupervisor,
)
from plugins.agents.page import AgentPagePanel, panel_files_router
from plugins.agents.permissions import (
    AGENTS_ALL,
    AGENTS_READ,
    AGENTS_WRITE,
    STATE_FORCE,
    STATE_WRITE,
    TEAMS_READ,
    TEAMS_WRITE,
)
from plugins.agents.presence import Cause, TransitionRefused, allowed, change_state
from plugins.agents.reach import leg_address, leg_options
from plugins.agents.scope import AgentScope, agent_scope, principal_user_id

__all__ = [
    "AGENTS_ALL",
    "AGENTS_READ",
    "AGENTS_WRITE",
    "MISSED",
    "STATE_FORCE",
    "STATE_WRITE",
    "TEAMS_READ",
    "TEAMS_WRITE",
    "Agent",
    "AgentPagePanel",
    "AgentScope",
    "AgentSettingsRow",
    "AgentSkill",
    "AgentState",
    "Cause",
    "Conversation",
    "HandledCall",
    "ReachKind",
    "ReasonCode",
    "StateChange",
    "Team",
    "TeamMember",
    "TeamSupervisor",
    "TransitionRefused",
    "agent_conversation",
    "agent_scope",
    "allowed",
    "change_state",
    "create_agent",
    "leg_address",
    "leg_options",
    "panel_files_router",
    "principal_user_id",
]
