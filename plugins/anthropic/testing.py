"""A local stand-in for the Anthropic API, for this plugin's tests and for anyone testing a
Kraliki AI integration without Anthropic (or a key).

It speaks Anthropic's wire format for the endpoints the provider uses: ``POST /v1/messages``
(JSON, and server-sent ``event:``/``data:`` lines: ``message_start``,
``content_block_start``, ``ping``, ``content_block_delta``, ``content_block_stop``,
``message_delta`` with the usage, ``message_stop``) and ``GET /v1/models``; checks the
``x-api-key`` and ``anthropic-version`` headers; answers Anthropic's error bodies
(``{"type": "error", "error": {"type", "message"}}``); records every request body::

    async with AnthropicStandIn(latency=0.3) as stand_in:
        monkeypatch.setenv("KRALIKI_ANTHROPIC_BASE_URL", stand_in.url)  # environment()
        stand_in.answer("Hello!", {"label": "positive"})  # the next answers, in order
        stand_in.responder = lambda body: "..."          # or one computed per request
        stand_in.fail_next(1, 529, retry_after="2")       # overloaded, once
        ...
        stand_in.message_bodies()[-1]["system"]           # what reached "Anthropic"

Without a scripted answer it answers :data:`DEFAULT_ANSWER` in text, or, for a request that
forces a tool, a call of that tool with the smallest document of its input schema. The
serving and scripting are :class:`plugins.ai.testing.StandInServer`'s.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from plugins.ai import testing
from plugins.ai.testing import Fault, StandInServer, example_of, pieces, tokens

__all__ = ["DEFAULT_ANSWER", "AnthropicStandIn", "Fault", "Received", "example_of"]

DEFAULT_ANSWER = "This is the Anthropic stand-in's answer."
MODELS = ("claude-haiku-4-5", "claude-sonnet-4-5", "claude-opus-4-1")
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
ERROR_MESSAGES = {
    429: "Number of request tokens has exceeded your per-minute rate limit",
    500: "Internal server error",
    529: "Overloaded",
}


@dataclass(frozen=True, slots=True)
class Received(testing.Received):
    """One request as the stand-in received it: ``api_key`` is the ``x-api-key`` it
    presented (None: none)."""

    version: str | None
    """Its ``anthropic-version`` header."""


@dataclass
class AnthropicStandIn(StandInServer[Received]):
    """Anthropic's API on loopback (under ``/v1``); a scripted JSON object answers as the
    input of the forced tool."""

    api_key: str = field(default_factory=lambda: "sk-ant-standin-" + secrets.token_hex(16))
    """The one key it accepts."""

    # --- scripting -------------------------------------------------------------------------

    def message_bodies(self) -> list[Any]:
        return self.bodies("/v1/messages")

    def environment(self) -> dict[str, str]:
        """Environment for a platform that should talk to this stand-in."""
        return {"KRALIKI_ANTHROPIC_BASE_URL": self.url}

    # --- serving ---------------------------------------------------------------------------

    def received(self, request: Request, body: Any) -> Received:
        key = request.headers.get("x-api-key")
        version = request.headers.get("anthropic-version")
        return Received(request.method, request.url.path, body, key, version)

    def refusal(self, fault: Fault) -> Response:
        headers = {"retry-after": fault.retry_after} if fault.retry_after is not None else {}
        said = ERROR_MESSAGES.get(fault.status, "The request was refused.")
        return error(fault.status, said, headers=headers)

    async def respond(self, request: Request, received: Received) -> Response:
        key, path, body = received.api_key, received.path, received.body
        if key is None:
            return error(401, "x-api-key header is required")
        if key != self.api_key:
            return error(401, "invalid x-api-key")
        if received.version is None:
            return error(400, "anthropic-version: header is required")
        route = (request.method, path)
        if route == ("GET", "/v1/models"):
            return JSONResponse(models_page())
        if route != ("POST", "/v1/messages"):
            return error(404, f"Not found: {request.method} {path}")
        if not isinstance(body, dict):
            return error(400, "the request body is not valid JSON")
        problem = message_problem(body)
        if problem is not None:
            return error(400, problem)
        content = self.content_of(body)
        await asyncio.sleep(self.latency)
        if body.get("stream"):
            return StreamingResponse(events(body, content), media_type="text/event-stream")
        return JSONResponse(message(body, content))

    def content_of(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The one content block of the answer: text, or a call of the forced tool."""
        found = self.scripted(body)
        tool = forced_tool(body)
        if tool is not None:
            if found is None or isinstance(found, str):
                schema = tool.get("input_schema") or {}
                found = json.loads(found) if isinstance(found, str) else example_of(schema, schema)
            return {
                "type": "tool_use",
                "id": f"toolu_{secrets.token_hex(12)}",
                "name": tool["name"],
                "input": found,
            }
        text = found if isinstance(found, str) else json.dumps(found) if found else DEFAULT_ANSWER
        return {"type": "text", "text": text}


# --- Anthropic's wire format ---------------------------------------------------------------


def error(status: int, message: str, *, headers: Mapping[str, str] | None = None) -> JSONResponse:
    kind = ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    body = {"type": "error", "error": {"type": kind, "message": message}}
    extra = {"request-id": f"req_{secrets.token_hex(12)}", **(headers or {})}
    return JSONResponse(body, status_code=status, headers=extra)


def models_page() -> dict[str, Any]:
    data = [
        {
            "type": "model",
            "id": model,
            "display_name": model.replace("-", " ").title(),
            "created_at": "2025-10-01T00:00:00Z",
        }
        for model in MODELS
    ]
    return {"data": data, "has_more": False, "first_id": MODELS[0], "last_id": MODELS[-1]}


def message_problem(body: Mapping[str, Any]) -> str | None:
    """What Anthropic would answer 400 to, of what a client may get wrong."""
    if not isinstance(body.get("model"), str):
        return "model: Field required"
    if not isinstance(body.get("max_tokens"), int):
        return "max_tokens: Field required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    for index, item in enumerate(messages):
        if item.get("role") not in ("user", "assistant"):
            return f"messages.{index}.role: Input should be 'user' or 'assistant'"
    if messages[0].get("role") != "user":
        return 'messages: the first message must use the "user" role'
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "tool":
        names = [t.get("name") for t in body.get("tools") or ()]
        if choice.get("name") not in names:
            return f"tool_choice: no tool named {choice.get('name')!r}"
    for tool in body.get("tools") or ():
        if not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", str(tool.get("name"))):
            return "tools.0.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'"
        if (tool.get("input_schema") or {}).get("type") != "object":
            return "tools.0.custom.input_schema.type: Input should be 'object'"
    return None


def forced_tool(body: Mapping[str, Any]) -> dict[str, Any] | None:
    choice = body.get("tool_choice")
    if not isinstance(choice, dict) or choice.get("type") != "tool":
        return None
    return next((t for t in body.get("tools") or () if t.get("name") == choice.get("name")), None)


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(
        str(block.get("text", "")) for block in content or () if isinstance(block, dict)
    )


def input_tokens(body: Mapping[str, Any]) -> int:
    system = text_of(body.get("system") or "")
    return tokens(system) + sum(tokens(text_of(m.get("content"))) for m in body["messages"])


def written(content: Mapping[str, Any]) -> str:
    return str(content["text"]) if content["type"] == "text" else json.dumps(content["input"])


def usage(given: int, out: int) -> dict[str, Any]:
    return {
        "input_tokens": given,
        "output_tokens": out,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "service_tier": "standard",
    }


def stop_reason(content: Mapping[str, Any]) -> str:
    return "tool_use" if content["type"] == "tool_use" else "end_turn"


def message(body: Mapping[str, Any], content: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": f"msg_{secrets.token_hex(12)}",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": [dict(content)],
        "stop_reason": stop_reason(content),
        "stop_sequence": None,
        "usage": usage(input_tokens(body), tokens(written(content))),
    }


async def events(body: Mapping[str, Any], content: Mapping[str, Any]) -> AsyncIterator[str]:
    def event(kind: str, data: Mapping[str, Any]) -> str:
        return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n"

    start = message(body, content) | {"content": [], "stop_reason": None}
    start["usage"] = usage(input_tokens(body), 1)
    yield event("message_start", {"message": start})
    if content["type"] == "text":
        block: dict[str, Any] = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": p} for p in pieces(str(content["text"]))]
    else:
        block = {"type": "tool_use", "id": content["id"], "name": content["name"], "input": {}}
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces(written(content))]
    yield event("content_block_start", {"index": 0, "content_block": block})
    yield event("ping", {})
    for delta in deltas:
        yield event("content_block_delta", {"index": 0, "delta": delta})
    yield event("content_block_stop", {"index": 0})
    yield event(
        "message_delta",
        {
            "delta": {"stop_reason": stop_reason(content), "stop_sequence": None},
            "usage": {"output_tokens": tokens(written(content))},
        },
    )
    yield event("message_stop", {})
