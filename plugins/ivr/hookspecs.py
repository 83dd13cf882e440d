"""Hooks the IVR plugin adds: other plugins extend it through these."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from kernel import hookspec

if TYPE_CHECKING:
    from plugins.ivr.nodes import NodeType


@hookspec
def kraliki_ivr_node_types() -> Sequence[NodeType]:  # type: ignore[empty-body]
    """Contribute IVR node types (payments adds a pay node, queues an enqueue node).

    Called once per platform, while ``ivr`` configures itself. Return
    :class:`plugins.ivr.nodes.NodeType` instances named ``<your plugin>.<name>`` (lower
    case): the name is the ``type`` of the nodes in a flow. Their configuration models,
    exits, capabilities and behaviour follow ``plugins.ivr.nodes``; see
    ``docs/plugins/ivr.md``. A name taken twice stops the platform.
    """
