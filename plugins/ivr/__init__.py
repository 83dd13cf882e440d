"""The public API of the ``ivr`` plugin: the node-type contract another plugin implements to
add a node to call flows (contributed through the ``kraliki_ivr_node_types`` hook), and the
effects such a node declares to act on the platform (``ctx.act``).

Every other module of ``plugins.ivr`` is private (enforced by the import contract,
``tests/test_import_contract.py``). The hook implementations live in :mod:`plugins.ivr.plugin`
(the entry point). See ``docs/plugins/ivr.md``, "Adding a node type".
"""

from __future__ import annotations

from plugins.ivr.effects import Effect, EffectScope
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
    "LookupFailed",
    "LookupRequest",
    "LookupResponse",
    "NodeConfig",
    "NodeContext",
    "NodeResult",
    "NodeType",
    "Template",
    "Wait",
]
