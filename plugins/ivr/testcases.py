"""Saved regression tests of a flow: a caller script and what the flow must do with it,
run in the simulator, with node and branch coverage over the flow."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from plugins.ivr.flowdoc import ParsedFlow
from plugins.ivr.simulator import Simulation


class Expectation(BaseModel):
    """What must hold after the script ran; every field given is checked."""

    model_config = ConfigDict(extra="forbid")

    outcome: str | None = Field(default=None, max_length=32)
    """``hangup``, ``transferred``, ``voicemail``, ``caller-hangup``, ``error``, ``incomplete``."""
    end_node: str | None = None
    """The node the flow ended at."""
    path: list[str] | None = Field(default=None, max_length=1000)
    """The exact path (``node:exit`` steps)."""
    visits: list[str] = Field(default_factory=list, max_length=200)
    """Nodes the call must pass through, in this order (others may come between)."""
    prompts_include: list[str] = Field(default_factory=list, max_length=100)
    """Texts the caller must hear (each a part of some prompt)."""
    variables: dict[str, Any] = Field(default_factory=dict, max_length=100)
    """Variables that must have these values at the end."""
    transferred_to: str | None = None


def _visited(simulation: Simulation) -> list[str]:
    seen: list[str] = []
    for step in simulation.steps:
        if step.depth == 0 and (not seen or seen[-1] != step.node):
            seen.append(step.node)
    return seen


def failures(simulation: Simulation, expect: Expectation) -> list[str]:
    """Why the simulation does not meet the expectation (empty: it passes)."""
    out: list[str] = []
    outcome = simulation.outcome
    if expect.outcome is not None and outcome.kind != expect.outcome:
        out.append(f"outcome is {outcome.kind!r}, expected {expect.outcome!r}")
    if expect.end_node is not None and outcome.node != expect.end_node:
        out.append(f"ended at {outcome.node!r}, expected {expect.end_node!r}")
    if expect.path is not None and simulation.path != expect.path:
        out.append(f"path is {simulation.path}, expected {expect.path}")
    visited = iter(_visited(simulation))
    for node in expect.visits:
        if node not in visited:  # consumes the iterator: order matters
            out.append(f"did not pass through {node!r} (in the expected order)")
            break
    heard = "\n".join(simulation.prompts).lower()
    for text in expect.prompts_include:
        if text.lower() not in heard:
            out.append(f"the caller never heard {text!r}")
    for name, value in expect.variables.items():
        if simulation.variables.get(name) != value:
            got = simulation.variables.get(name)
            out.append(f"variable {name!r} is {got!r}, expected {value!r}")
    if expect.transferred_to is not None:
        to = outcome.detail.get("to")
        if outcome.kind != "transferred" or to != expect.transferred_to:
            out.append(f"not transferred to {expect.transferred_to} ({outcome.kind}, {to})")
    return out


def coverage(flow: ParsedFlow, simulations: Sequence[Simulation]) -> dict[str, Any]:
    """Which of the flow's nodes and branches (wired exits) the simulations went through."""
    nodes = set(flow.nodes)
    branches = {f"{node}:{name}" for node, config in flow.nodes.items() for name in config.exits}
    seen_nodes: set[str] = set()
    seen_branches: set[str] = set()
    for simulation in simulations:
        for step in simulation.steps:
            if step.depth != 0:
                continue
            seen_nodes.add(step.node)
            if step.exit is not None:
                seen_branches.add(f"{step.node}:{step.exit}")

    def part(total: set[str], seen: set[str]) -> dict[str, Any]:
        covered = total & seen
        return {
            "covered": len(covered),
            "total": len(total),
            "percent": round(100 * len(covered) / len(total), 1) if total else 100.0,
            "missed": sorted(total - covered),
        }

    return {"nodes": part(nodes, seen_nodes), "branches": part(branches, seen_branches)}
