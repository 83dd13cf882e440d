"""The public API of the ``ivr`` plugin: the node-type contract another plugin implements to
add a node to call flows (contributed through the ``kraliki_ivr_node_types`` hook), and the
effects such a node declares to act on the platform (``ctx.act``), and what other plugins ask
about flows (:func:`node_problem`, :func:`nodes_naming`), and how another plugin makes a flow
of its own: from a sample (:func:`sample_flow`), created and published in one step
(:func:`create_published_flow`).

Every other module of ``plugins.ivr`` is private (enforced by the import contract,
``tests/test_import_contract.py``). The hook implementations live in :mod:`plugins.ivr.plugin`
(the entry point). See ``docs/plugins/ivr.md``, "Adding a node type".
"""

from __future__ import annotations

from plugins.ivr.authoring import (
    PublishedFlow,
    SampleFlow,
    create_published_flow,
    sample_flow,
)
from plugins.ivr.effects import Effect, EffectScope
from plugins.ivr.handoff import HandedOverFrom, handed_over_from
from plugins.ivr.nodes import (
    EXIT_NAME,
    NEXT,
    NODE_ID,
    NONE,
    CallerInput,
    CallFacts,
    End,
    EnterFlow,
    ExitSpec,
    Go,
    HandOver,
    LookupFailed,
    LookupRequest,
    LookupResponse,
    NodeConfig,
    NodeContext,
    NodeResult,
    NodeType,
    Template,
    Wait,
)
from plugins.ivr.references import flow_problem, node_problem, nodes_naming

__all__ = [
    "EXIT_NAME",
    "NEXT",
    "NODE_ID",
    "NONE",
    "CallFacts",
    "CallerInput",
    "Effect",
    "EffectScope",
    "End",
    "EnterFlow",
    "ExitSpec",
    "Go",
    "HandOver",
    "HandedOverFrom",
    "LookupFailed",
    "LookupRequest",
    "LookupResponse",
    "NodeConfig",
    "NodeContext",
    "NodeResult",
    "NodeType",
    "PublishedFlow",
    "SampleFlow",
    "Template",
    "Wait",
    "create_published_flow",
    "flow_problem",
    "handed_over_from",
    "node_problem",
    "nodes_naming",
    "sample_flow",
]
