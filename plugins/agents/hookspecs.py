"""Hooks the agents plugin adds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kernel import hookspec

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from kernel import Platform
    from plugins.agents.conversation import Conversation
    from plugins.agents.models import Agent, StateChange
    from plugins.agents.page import AgentPagePanel


@hookspec
def kraliki_agent_state_changed(
    platform: Platform, session: AsyncSession, agent: Agent, change: StateChange
) -> None:
    """An agent's presence changed, inside the transaction that changed it; may be async.

    Queues wake their routing here when an agent becomes available. Keep it short (no
    network): it runs while the agent's row is locked. All implementations run under one
    savepoint: one that raises is logged, every implementation's writes are undone, and the
    state change itself stands.
    """


@hookspec
def kraliki_agent_loopback_script_problems(script: list[Any]) -> list[tuple[str, str]]:  # type: ignore[empty-body]
    """Check a loopback agent's script (``reach.loopback_script``) before it is stored;
    synchronous.

    Called when an agent is created or changed with a loopback reach and a script. Return the
    problems, each as (where, why): ``where`` is ``[i]`` and the field of step ``i``
    (``[1].seconds``), or empty for the script as a whole; an empty list accepts it. The
    loopback plugin implements it (the script is its callee's), so agents does not depend on
    it; without an implementation the script is stored unchecked.
    """


@hookspec
def kraliki_agent_page_panels() -> Sequence[AgentPagePanel]:  # type: ignore[empty-body]
    """Panels other plugins add to the agent page; synchronous, called per request of
    ``/agents/page/panels.json`` (the list is static: it holds no data).

    Each :class:`~plugins.agents.AgentPagePanel` names a JavaScript module the plugin serves
    (a path under the API root, e.g. ``campaigns/page/preview-panel.js``) and the title of
    the card the page makes for it. The page imports the module once signed in and calls its
    ``mount(card, page)``; ``page.api(method, path, body)`` calls the API with the agent's
    token, ``page.me()`` is the agent's profile, ``page.onReload(fn)`` runs ``fn(me)`` every
    time the page reloads what it shows (an event about the agent, a reconnect).
    """


@hookspec
def kraliki_agent_conversation(
    platform: Platform, session: AsyncSession, agent: Agent
) -> Conversation | None:
    """Where ``agent``'s live conversation is, if your plugin connected it; may be async.

    Called by :func:`plugins.agents.agent_conversation` (a supervisor about to listen, whisper
    or barge in), in the caller's transaction: only read. Return a
    :class:`~plugins.agents.Conversation` (the provider's conference, the provider, the
    agent's leg, the customer's call) while the agent's leg is in progress, else None. The
    first answer in plugin order wins; an implementation that raises is logged and ignored.
    Queues answer for queued calls, campaigns for seated agents.
    """
