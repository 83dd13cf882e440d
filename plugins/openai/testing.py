"""A local stand-in for the OpenAI API, for this plugin's tests and for anyone testing a
Kraliki AI integration without OpenAI (or a key).

It speaks OpenAI's wire format for the endpoints the provider uses: ``POST
/v1/chat/completions`` (JSON, and server-sent ``data:`` chunks ending ``data: [DONE]`` with a
usage chunk), ``POST /v1/embeddings``, ``GET /v1/models``; checks the bearer key; answers
OpenAI's error bodies (``{"error": {"message", "type", "param", "code"}}``); records every
request body it received::

    async with OpenAIStandIn(latency=0.3) as stand_in:
        monkeypatch.setenv(*stand_in.environment().popitem())  # KRALIKI_OPENAI_BASE_URL
        stand_in.answer("Hello!", {"label": "positive"})  # the next answers, in order
        stand_in.responder = lambda body: "..."          # or one computed per request
        stand_in.fail_next(1, 429, retry_after="2")       # throttle the next request
        ...
        stand_in.chat_bodies()[-1]["messages"]            # what reached "OpenAI"

Without a scripted answer it answers :data:`DEFAULT_ANSWER`, or, for a request with a JSON
schema, the smallest document of that schema. Embeddings are deterministic bags of words
(texts sharing words are close by cosine similarity). The serving and scripting are
:class:`plugins.ai.testing.StandInServer`'s.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import re
import secrets
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from plugins.ai import testing
from plugins.ai.testing import Received, StandInServer, example_of, pieces, tokens

__all__ = ["DEFAULT_ANSWER", "Fault", "OpenAIStandIn", "Received", "example_of"]

DEFAULT_ANSWER = "This is the OpenAI stand-in's answer."
MODELS = ("gpt-4.1", "gpt-4.1-mini", "gpt-4o-mini", "text-embedding-3-small")
WORD = re.compile(r"\w+")
CHAT = "/v1/chat/completions"


@dataclass(frozen=True, slots=True)
class Fault(testing.Fault):
    code: str | None = None
    """The ``code`` of OpenAI's error body (None: OpenAI's own for the status)."""


@dataclass
class OpenAIStandIn(StandInServer[Received]):
    """OpenAI's API on loopback (under ``/v1``); :class:`Received` keeps the bearer key."""

    # --- scripting -------------------------------------------------------------------------

    def fail_next(
        self,
        count: int = 1,
        status: int = 429,
        *,
        retry_after: str | None = None,
        code: str | None = None,
    ) -> None:
        """The next ``count`` requests answer ``status`` with OpenAI's error body (and a
        ``retry-after`` header when given)."""
        self.faults.extend(Fault(status, retry_after, code) for _ in range(count))

    def chat_bodies(self) -> list[Any]:
        return self.bodies(CHAT)

    def environment(self) -> dict[str, str]:
        """Environment for a platform that should talk to this stand-in."""
        return {"KRALIKI_OPENAI_BASE_URL": f"{self.url}/v1"}

    # --- serving ---------------------------------------------------------------------------

    def received(self, request: Request, body: Any) -> Received:
        authorization = request.headers.get("authorization", "")
        key = authorization[7:] if authorization.startswith("Bearer ") else None
        return Received(request.method, request.url.path, body, key)

    def refusal(self, fault: testing.Fault) -> Response:
        return fault_response(fault)

    async def respond(self, request: Request, received: Received) -> Response:
        key, path, body = received.api_key, received.path, received.body
        if key is None:
            return error(401, "You didn't provide an API key.", "invalid_request_error")
        if key != self.api_key:
            return error(
                401,
                f"Incorrect API key provided: {mask(key)}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
                code="invalid_api_key",
            )
        route = (request.method, path)
        if route == ("GET", "/v1/models"):
            return JSONResponse(models_page())
        if not isinstance(body, dict):
            return error(
                400, "We could not parse the JSON body of your request.", "invalid_request_error"
            )
        if route == ("POST", CHAT):
            return await self.chat(body)
        if route == ("POST", "/v1/embeddings"):
            await asyncio.sleep(self.latency)
            return JSONResponse(embeddings(body))
        return error(404, f"Invalid URL ({request.method} {path})", "invalid_request_error")

    async def chat(self, body: dict[str, Any]) -> Response:
        problem = chat_problem(body)
        if problem is not None:
            return error(400, problem, "invalid_request_error")
        text = self.text_of(body)
        await asyncio.sleep(self.latency)
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(
                chunks(body, text, include_usage=include_usage), media_type="text/event-stream"
            )
        return JSONResponse(completion(body, text))

    def text_of(self, body: Mapping[str, Any]) -> str:
        found = self.scripted(body)
        if found is None:
            schema = json_schema_of(body)
            found = example_of(schema, schema) if schema is not None else DEFAULT_ANSWER
        return found if isinstance(found, str) else json.dumps(found)


# --- OpenAI's wire format ------------------------------------------------------------------


def error(
    status: int,
    message: str,
    kind: str,
    *,
    code: str | None = None,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def fault_response(fault: testing.Fault) -> JSONResponse:
    headers = {"retry-after": fault.retry_after} if fault.retry_after is not None else {}
    code = fault.code if isinstance(fault, Fault) else None
    if fault.status == 429:
        return error(
            429,
            "Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1.",
            "requests",
            code=code or "rate_limit_exceeded",
            headers=headers,
        )
    if fault.status >= 500:
        return error(
            fault.status,
            "The server had an error while processing your request.",
            "server_error",
            code=code,
            headers=headers,
        )
    return error(
        fault.status,
        "The request was refused.",
        "invalid_request_error",
        code=code,
        headers=headers,
    )


def mask(key: str) -> str:
    return f"{key[:3]}{'*' * 10}{key[-4:]}" if len(key) > 8 else "*" * len(key)


def models_page() -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"id": m, "object": "model", "created": 1_700_000_000, "owned_by": "system"}
            for m in MODELS
        ],
    }


def chat_problem(body: Mapping[str, Any]) -> str | None:
    """What OpenAI would answer 400 to, of what a client may get wrong."""
    if not isinstance(body.get("model"), str):
        return "you must provide a model parameter"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "[] is too short - 'messages'"
    for message in messages:
        if message.get("role") not in ("system", "developer", "user", "assistant", "tool"):
            return (
                f"Invalid value: {message.get('role')!r}. Supported values are: 'system', "
                "'assistant', 'user', 'tool', and 'developer'."
            )
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        spec = response_format.get("json_schema") or {}
        if not isinstance(spec.get("name"), str) or not re.fullmatch(r"[\w-]{1,64}", spec["name"]):
            return "Invalid 'response_format.json_schema.name'"
        if spec.get("strict"):
            problem = strict_problem(spec.get("schema") or {})
            if problem is not None:
                return f"Invalid schema for response_format '{spec['name']}': {problem}"
    return None


def strict_problem(node: Any) -> str | None:
    """Why strict structured outputs would refuse ``node`` (a few of OpenAI's rules)."""
    if isinstance(node, list):
        return next((p for p in map(strict_problem, node) if p is not None), None)
    if not isinstance(node, dict):
        return None
    if "default" in node or "oneOf" in node or "allOf" in node:
        return "'default', 'oneOf' and 'allOf' are not permitted."
    if node.get("type") == "object" or "properties" in node:
        if node.get("additionalProperties") is not False:
            return "'additionalProperties' is required to be supplied and to be false."
        properties = node.get("properties") or {}
        if set(node.get("required") or ()) != set(properties):
            return (
                "'required' is required to be supplied and to be an array including "
                "every key in properties."
            )
    children: list[Any] = []
    for key in ("properties", "$defs", "definitions"):
        children.extend((node.get(key) or {}).values())
    children.extend(node[key] for key in ("items", "anyOf") if key in node)
    return strict_problem(children)


def json_schema_of(body: Mapping[str, Any]) -> dict[str, Any] | None:
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        return schema if isinstance(schema, dict) else None
    return None


def prompt_tokens(body: Mapping[str, Any]) -> int:
    return sum(tokens(str(m.get("content") or "")) for m in body.get("messages") or ())


def usage(body: Mapping[str, Any], text: str) -> dict[str, int]:
    given, written = prompt_tokens(body), tokens(text)
    return {"prompt_tokens": given, "completion_tokens": written, "total_tokens": given + written}


def completion(body: Mapping[str, Any], text: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{secrets.token_hex(12)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": text,
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": usage(body, text),
        "service_tier": "default",
        "system_fingerprint": "fp_standin",
    }


async def chunks(body: Mapping[str, Any], text: str, *, include_usage: bool) -> Any:
    base = {
        "id": f"chatcmpl-{secrets.token_hex(12)}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body["model"],
        "service_tier": "default",
        "system_fingerprint": "fp_standin",
    }
    extra: dict[str, Any] = {"usage": None} if include_usage else {}

    def event(choices: list[Any], **more: Any) -> str:
        return f"data: {json.dumps(base | {'choices': choices} | extra | more)}\n\n"

    def choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}

    yield event([choice({"role": "assistant", "content": "", "refusal": None})])
    for piece in pieces(text):
        yield event([choice({"content": piece})])
    yield event([choice({}, "stop")])
    if include_usage:
        yield event([], usage=usage(body, text))
    yield "data: [DONE]\n\n"


def embeddings(body: Mapping[str, Any]) -> dict[str, Any]:
    given = body.get("input")
    inputs = [given] if isinstance(given, str) else list(given or [])
    dimensions = int(body.get("dimensions") or 1536)
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for index, text in enumerate(inputs):
        vector = bag_of_words(str(text), dimensions)
        encoded: Any = (
            base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
            if as_base64
            else vector
        )
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    used = sum(tokens(str(text)) for text in inputs)
    return {
        "object": "list",
        "data": data,
        "model": body.get("model"),
        "usage": {"prompt_tokens": used, "total_tokens": used},
    }


def bag_of_words(text: str, dimensions: int) -> list[float]:
    """A unit vector with a component per word (hashed): texts sharing words are close."""
    vector = [0.0] * dimensions
    for word in WORD.findall(text.lower()):
        digest = hashlib.sha256(word.encode()).digest()
        vector[int.from_bytes(digest[:4], "big") % dimensions] += 1.0
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector] if norm else vector
