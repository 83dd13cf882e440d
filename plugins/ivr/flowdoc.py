"""The flow document: what a draft and every published version store (JSON), and its parsed
form with each node's configuration checked by its node type."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from plugins.ivr.nodes import NODE_ID, NodeConfig, NodeType

MAX_NODES = 500


class Fallback(BaseModel):
    """What the caller hears when something inside the flow fails (a lookup node without an
    error exit cannot fail this way; a bug in an expression, a missing sub-flow can)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    message: str = Field(
        default="We are sorry, something went wrong. Please call again later. Goodbye.",
        min_length=1,
        max_length=1000,
    )
    transfer_to: str | None = Field(default=None, pattern=r"^\+[1-9][0-9]{6,14}$")
    """Transfer here after the message instead of hanging up (an operator, a voicemail box)."""


class FlowDocument(BaseModel):
    """A flow as stored: a graph of typed nodes with named exits."""

    model_config = ConfigDict(extra="forbid")

    start: str = Field(pattern=NODE_ID)
    """The node a call enters first."""
    language: str = Field(default="en-US", max_length=16)
    voice: str | None = Field(default=None, max_length=64)
    variables: dict[str, Any] = Field(default_factory=dict, max_length=100)
    """Initial values of the flow's variables."""
    fallback: Fallback = Field(default_factory=Fallback)
    nodes: dict[str, dict[str, Any]] = Field(max_length=MAX_NODES)
    """Node id -> node (``type``, ``exits`` and the type's fields)."""


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem with a flow, precise enough for a designer to point at."""

    code: str
    message: str
    node: str | None = None
    field: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "node": self.node, "field": self.field, "message": self.message}


@dataclass(frozen=True)
class ParsedFlow:
    """A flow whose nodes were parsed by their types; ``issues`` lists what could not be."""

    document: FlowDocument
    nodes: dict[str, NodeConfig]
    types: dict[str, NodeType]
    issues: tuple[Issue, ...] = ()
    flow_id: uuid.UUID | None = None
    version_id: uuid.UUID | None = None
    version: int | None = None


def field_path(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as ``branches[0].digits``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def schema_issues(error: ValidationError, node: str | None = None) -> list[Issue]:
    issues = []
    for item in error.errors(include_url=False, include_input=False):
        message = str(item["msg"]).removeprefix("Value error, ")
        issues.append(Issue("schema", message, node=node, field=field_path(item["loc"]) or None))
    return issues
