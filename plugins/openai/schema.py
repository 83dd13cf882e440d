"""OpenAI's strict structured outputs accept a subset of JSON Schema: every object closed
(``additionalProperties: false``) with every property required, and no keyword outside the
supported ones. A pydantic model's schema fits when its fields have no defaults; otherwise
the request goes non-strict (the gateway validates the answer against the model anyway)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

UNSUPPORTED = frozenset(
    {
        "default",
        "minLength",
        "maxLength",
        "uniqueItems",
        "minProperties",
        "maxProperties",
        "patternProperties",
        "propertyNames",
        "unevaluatedProperties",
        "oneOf",
        "allOf",
        "not",
        "if",
        "then",
        "else",
        "contains",
        "dependentRequired",
        "dependentSchemas",
    }
)
"""Keywords strict mode refuses (as OpenAI's structured outputs guide lists them)."""
SCHEMA_MAPS = ("properties", "$defs", "definitions")
SCHEMA_NODES = ("items", "anyOf", "prefixItems", "additionalProperties")


def strict_schema(schema: Mapping[str, Any]) -> dict[str, Any] | None:
    """A copy of ``schema`` strict mode accepts (objects closed), or None when it cannot
    be made one without changing what it means."""
    tightened = copy.deepcopy(dict(schema))
    if tightened.get("type") != "object":
        return None
    return tightened if _tighten(tightened) else None


def _tighten(node: Any) -> bool:
    if isinstance(node, list):
        return all(_tighten(item) for item in node)
    if not isinstance(node, dict):
        return True
    if UNSUPPORTED & node.keys():
        return False
    if node.get("type") == "object" or "properties" in node:
        properties = node.get("properties", {})
        if node.get("additionalProperties", False) is not False:
            return False
        if set(node.get("required", ())) != set(properties):
            return False  # an optional field: strict mode has none
        node["additionalProperties"] = False
        node["required"] = list(properties)
    for key, value in node.items():
        if key in SCHEMA_MAPS and isinstance(value, dict):
            if not all(_tighten(child) for child in value.values()):
                return False
        elif key in SCHEMA_NODES and not _tighten(value):
            return False
    return True
