"""The node types: the IVR's own and those other plugins add through
``kraliki_ivr_node_types``; parsing a flow document with them."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from kernel import Platform, PluginError, StateKey, UniqueRegistry
from plugins.ivr.config import IvrSettings
from plugins.ivr.flowdoc import FlowDocument, Issue, ParsedFlow, schema_issues
from plugins.ivr.nodes import NODE_ID, NodeConfig, NodeType

TYPE_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$")


@dataclass
class IvrState:
    """What the IVR keeps per platform (under :data:`IVR_STATE`)."""

    settings: IvrSettings
    types: UniqueRegistry[NodeType]

    def parse(
        self,
        raw: dict[str, Any] | FlowDocument,
        *,
        flow_id: uuid.UUID | None = None,
        version_id: uuid.UUID | None = None,
        version: int | None = None,
    ) -> ParsedFlow:
        """Parse a document and each of its nodes; problems are collected, not raised
        (raises ValidationError only when the document itself is not a flow)."""
        document = raw if isinstance(raw, FlowDocument) else FlowDocument.model_validate(raw)
        nodes: dict[str, NodeConfig] = {}
        types: dict[str, NodeType] = {}
        issues: list[Issue] = []
        for node_id, node in document.nodes.items():
            if not re.match(NODE_ID, node_id):
                issues.append(
                    Issue("schema", "a node id is 1-64 letters, digits, _ and -", node=node_id)
                )
                continue
            kind = node.get("type")
            if not isinstance(kind, str) or kind not in self.types:
                issues.append(
                    Issue(
                        "unknown-type",
                        f"unknown node type {kind!r}",
                        node=node_id,
                        field="type",
                    )
                )
                continue
            node_type = self.types.get(kind)
            try:
                nodes[node_id] = node_type.config.model_validate(node)
            except ValidationError as exc:
                issues.extend(schema_issues(exc, node_id))
                continue
            types[node_id] = node_type
        return ParsedFlow(
            document=document,
            nodes=nodes,
            types=types,
            issues=tuple(issues),
            flow_id=flow_id,
            version_id=version_id,
            version=version,
        )


def builtin_types() -> UniqueRegistry[NodeType]:
    """A registry of the IVR's own node types (what a platform starts from)."""
    from plugins.ivr.builtin import BUILTIN_TYPES

    types: UniqueRegistry[NodeType] = UniqueRegistry("IVR node type")
    for node_type in BUILTIN_TYPES:
        types.register(node_type.name, node_type, plugin="ivr")
    return types


def configure(platform: Platform) -> IvrState:
    types = builtin_types()
    for plugin, contributed in platform.hooks.collect_now("kraliki_ivr_node_types"):
        for node_type in contributed:
            if not isinstance(node_type, NodeType):
                raise PluginError(
                    f"plugin {plugin!r}: kraliki_ivr_node_types returned {node_type!r}"
                )
            if not TYPE_NAME.match(node_type.name) or not node_type.name.startswith(f"{plugin}."):
                raise PluginError(
                    f"plugin {plugin!r}: a node type it adds is named '{plugin}.<name>' "
                    f"(lower case), not {node_type.name!r}"
                )
            types.register(node_type.name, node_type, plugin=plugin)
    state = IvrState(settings=IvrSettings(), types=types)
    return IVR_STATE.set(platform, state)


IVR_STATE = StateKey[IvrState]("ivr")


def ivr_state(platform: Platform) -> IvrState:
    return IVR_STATE.get(platform)
