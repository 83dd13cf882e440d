"""How the platform rings an agent: the address and provider options of the agent's leg,
the same for every plugin that calls agents (queues' offers, campaigns' seats)."""

from __future__ import annotations

from typing import Any

from plugins.agents.models import Agent, ReachKind


def leg_address(agent: Agent) -> str:
    """The number or SIP URI to dial; a loopback agent is an address of the loopback
    carrier that names the agent (its script says what the simulated phone does)."""
    if agent.reach_kind == ReachKind.LOOPBACK.value:
        return f"sip:agent-{agent.id}@loopback.invalid"
    return agent.reach_address


def leg_options(agent: Agent) -> dict[str, Any]:
    """Provider options of the agent's leg: a loopback agent's script."""
    if agent.reach_kind == ReachKind.LOOPBACK.value and agent.loopback_script is not None:
        return {"script": agent.loopback_script}
    return {}
