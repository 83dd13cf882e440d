"""Flow validation: everything that can be known before a caller hears the flow.

Checks, each reported with the node and field: the schema of every node (by its type);
exits a type does not have, exits leading to no node, required exits left unset (a gather
without ``no_input``, a condition without ``else``); nodes no path reaches; nodes from which
the flow can never wait for the caller or end (an endless loop); sub-flows that do not
exist or were never published; and nodes the organization's telephony providers cannot run
(a speech menu on a provider without speech recognition)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from plugins.calls import Capability
from plugins.ivr.flowdoc import Issue, ParsedFlow


@dataclass(frozen=True)
class Context:
    """What validation needs to know beyond the flow itself."""

    providers: Mapping[str, frozenset[Capability]] = field(default_factory=dict)
    """Provider name -> capabilities, for the providers the flow's calls will run on."""
    published_flows: frozenset[uuid.UUID] | None = None
    """The organization's flows that have a published version (None: do not check)."""
    flow_id: uuid.UUID | None = None


def validate(flow: ParsedFlow, context: Context | None = None) -> list[Issue]:
    """Every problem of the flow; empty when it can be published."""
    context = context or Context()
    issues = list(flow.issues)
    if flow.document.start not in flow.document.nodes:
        issues.append(
            Issue(
                "missing-start",
                f"the start node {flow.document.start!r} does not exist",
                field="start",
            )
        )
    issues += _exits(flow)
    if not any(issue.code == "missing-start" for issue in issues):
        issues += _reachability(flow)
    issues += _capabilities(flow, context)
    issues += _subflows(flow, context)
    for node_id, config in flow.nodes.items():
        for field_name, message in flow.types[node_id].check(config):
            issues.append(Issue("invalid", message, node=node_id, field=field_name))
    return issues


def _exits(flow: ParsedFlow) -> list[Issue]:
    issues: list[Issue] = []
    for node_id, config in flow.nodes.items():
        spec = flow.types[node_id].exits(config)
        for name, target in config.exits.items():
            where = f"exits.{name}"
            if name not in spec.allowed:
                allowed = ", ".join(sorted(spec.allowed)) or "none"
                issues.append(
                    Issue(
                        "unknown-exit",
                        f"a {config.type} node has no exit {name!r} (it has: {allowed})",
                        node=node_id,
                        field=where,
                    )
                )
            elif target not in flow.document.nodes:
                issues.append(
                    Issue(
                        "dangling-exit",
                        f"exit {name!r} leads to {target!r}, which is not a node",
                        node=node_id,
                        field=where,
                    )
                )
        for name in sorted(spec.required - set(config.exits)):
            issues.append(
                Issue(
                    "missing-exit",
                    f"exit {name!r} must lead somewhere (a default branch)",
                    node=node_id,
                    field=f"exits.{name}",
                )
            )
    return issues


def _edges(flow: ParsedFlow) -> dict[str, list[str]]:
    """Exits between nodes; a node that failed to parse still leads where its ``exits`` say
    (so its targets are not reported unreachable on top of its own problem)."""
    edges: dict[str, list[str]] = {}
    for node_id, raw in flow.document.nodes.items():
        config = flow.nodes.get(node_id)
        exits = config.exits if config is not None else raw.get("exits")
        targets: list[Any] = list(exits.values()) if isinstance(exits, dict) else []
        edges[node_id] = [t for t in targets if isinstance(t, str) and t in flow.nodes]
    return edges


def _stops(flow: ParsedFlow, node_id: str) -> bool:
    """The flow can wait for the caller or end at this node (a sub-flow is trusted to)."""
    node_type = flow.types[node_id]
    return node_type.waits or node_type.ends or bool(node_type.flows(flow.nodes[node_id]))


def _reachability(flow: ParsedFlow) -> list[Issue]:
    edges = _edges(flow)
    reached: set[str] = set()
    todo = [flow.document.start] if flow.document.start in flow.document.nodes else []
    while todo:
        node_id = todo.pop()
        if node_id not in reached:
            reached.add(node_id)
            todo.extend(edges[node_id])
    issues = [
        Issue("unreachable", "no path from the start leads to this node", node=node_id)
        for node_id in flow.document.nodes
        if node_id not in reached and node_id in flow.nodes
    ]
    # Nodes that can reach a stop: walk the edges backwards from every stop.
    backwards: dict[str, list[str]] = {node_id: [] for node_id in flow.nodes}
    for source, targets in edges.items():
        for target in targets:
            if source in flow.nodes:
                backwards[target].append(source)
    settles = {node_id for node_id in flow.nodes if _stops(flow, node_id)}
    todo = list(settles)
    while todo:
        for source in backwards[todo.pop()]:
            if source not in settles:
                settles.add(source)
                todo.append(source)
    for node_id in flow.nodes:
        if node_id in reached and node_id not in settles and edges[node_id]:
            issues.append(
                Issue(
                    "endless-loop",
                    "from here the flow loops without ever waiting for the caller or ending",
                    node=node_id,
                )
            )
    return issues


def _capabilities(flow: ParsedFlow, context: Context) -> list[Issue]:
    issues = []
    for node_id, config in flow.nodes.items():
        needed = flow.types[node_id].capabilities(config)
        for provider, capabilities in sorted(context.providers.items()):
            for capability in sorted(needed - capabilities):
                issues.append(
                    Issue(
                        "capability",
                        f"{provider} cannot do {capability.value}, which this node needs",
                        node=node_id,
                    )
                )
    return issues


def _subflows(flow: ParsedFlow, context: Context) -> list[Issue]:
    issues = []
    for node_id, config in flow.nodes.items():
        for flow_id in flow.types[node_id].flows(config):
            if context.flow_id is not None and flow_id == context.flow_id:
                issues.append(
                    Issue("subflow", "a flow cannot run itself", node=node_id, field="flow_id")
                )
            elif context.published_flows is not None and flow_id not in context.published_flows:
                issues.append(
                    Issue(
                        "subflow",
                        "no flow of the organization with this id has a published version",
                        node=node_id,
                        field="flow_id",
                    )
                )
    return issues
