"""The HTTP lookup node: ask the tenant's own system about the caller (an account, a
balance, an open ticket) and keep parts of its JSON answer in variables."""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import quote

from pydantic import Field, field_validator

from plugins.ivr.nodes import (
    ExitSpec,
    Go,
    LookupFailed,
    LookupRequest,
    NodeConfig,
    NodeContext,
    NodeResult,
    NodeType,
    Template,
)
from plugins.ivr.templates import render

VARIABLE = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"
JSON_PATH = r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){0,15}$"
FORBIDDEN_HEADERS = frozenset({"authorization", "cookie", "host", "content-length"})


class LookupConfig(NodeConfig):
    type: Literal["http_lookup"] = "http_lookup"
    method: Literal["GET", "POST"] = "GET"
    url: Template = Field(min_length=10, max_length=2048, pattern=r"^https?://")
    """Templated (``https://crm.example.com/customers?phone={{ call.caller }}``); the
    platform's outbound rules apply (no private addresses unless the operator allows)."""
    body: dict[str, Template] = Field(default_factory=dict, max_length=50)
    """POST: a JSON object of templated strings."""
    headers: dict[str, str] = Field(default_factory=dict, max_length=20)
    auth: Literal["none", "bearer"] = "none"
    """``bearer``: send the tenant's vault secret ``ivr.lookup_token``."""
    timeout_seconds: float = Field(default=3.0, ge=0.5, le=10.0)
    """The caller waits in silence meanwhile: keep it short."""
    assign: dict[str, str] = Field(default_factory=dict, max_length=50)
    """Variable -> path into the JSON answer (``customer.tier``, ``items.0.id``)."""

    @field_validator("url")
    @classmethod
    def _fixed_host(cls, url: str) -> str:
        authority = url.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0]
        if "{{" in authority or not authority:
            raise ValueError("the URL's host is written out; only path and query take variables")
        return url

    @field_validator("headers")
    @classmethod
    def _headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for name in headers:
            if name.lower() in FORBIDDEN_HEADERS:
                raise ValueError(f"header {name!r} is set by the platform")
        return headers

    @field_validator("assign")
    @classmethod
    def _assign(cls, assign: dict[str, str]) -> dict[str, str]:
        for name, path in assign.items():
            if not re.match(VARIABLE, name) or name in ("call", "language", "now"):
                raise ValueError(f"{name!r} cannot be a variable name")
            if not re.match(JSON_PATH, path):
                raise ValueError(f"{path!r} is not a path like customer.tier or items.0.id")
        return assign


def pick(document: Any, path: str) -> Any:
    """The value at ``path`` (dot-separated keys and list indexes), or None."""
    value = document
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _quoted(value: Any) -> Any:
    """Variables as they may appear in a URL: every text percent-encoded (``+44...`` must not
    arrive as a space, ``&`` must not start a new parameter)."""
    if isinstance(value, dict):
        return {key: _quoted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_quoted(item) for item in value]
    if isinstance(value, str):
        return quote(value, safe="")
    return value


class LookupNode(NodeType):
    name = "http_lookup"
    config = LookupConfig
    description = (
        "Call the organization's own HTTP API (JSON), keep parts of the answer in variables; "
        "exit not_found on a 404 when set, error on failure."
    )

    def exits(self, config: LookupConfig) -> ExitSpec:
        return ExitSpec(required=frozenset({"next", "error"}), optional=frozenset({"not_found"}))

    async def enter(self, ctx: NodeContext, config: LookupConfig) -> NodeResult:
        request = LookupRequest(
            method=config.method,
            url=render(config.url, _quoted(ctx.scope())),
            headers=dict(config.headers),
            json={key: ctx.render(value) for key, value in config.body.items()}
            if config.method == "POST"
            else None,
            timeout_seconds=config.timeout_seconds,
            bearer_secret="ivr.lookup_token" if config.auth == "bearer" else None,
        )
        try:
            response = await ctx.lookup(ctx.node_id, request)
        except LookupFailed as exc:
            return Go("error", detail={"error": str(exc)})
        if response.status_code == 404 and "not_found" in config.exits:
            return Go("not_found", detail={"status": 404})
        if not 200 <= response.status_code < 300:
            return Go("error", detail={"status": response.status_code})
        for name, path in config.assign.items():
            ctx.variables[name] = pick(response.json, path)
        return Go("next", detail={"status": response.status_code, "set": sorted(config.assign)})


LOOKUP_TYPES = (LookupNode(),)
