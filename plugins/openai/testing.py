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
(texts sharing words are close by cosine similarity).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import math
import re
import secrets
import struct
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

__all__ = ["DEFAULT_ANSWER", "Fault", "OpenAIStandIn", "Received", "example_of"]

DEFAULT_ANSWER = "This is the OpenAI stand-in's answer."
MODELS = ("gpt-4.1", "gpt-4.1-mini", "gpt-4o-mini", "text-embedding-3-small")
WORD = re.compile(r"\w+")
Answer = str | Mapping[str, Any]
"""A scripted answer: text, or a JSON object (for a request with a schema)."""


@dataclass(frozen=True, slots=True)
class Received:
    """One request as the stand-in received it."""

    method: str
    path: str
    body: Any
    api_key: str | None
    """The bearer key it presented (None: none)."""


@dataclass(frozen=True, slots=True)
class Fault:
    status: int
    retry_after: str | None = None
    code: str | None = None


@dataclass
class OpenAIStandIn:
    api_key: str = field(default_factory=lambda: "sk-standin-" + secrets.token_hex(16))
    """The one key it accepts."""
    latency: float = 0.0
    """Seconds before each answer (before the first chunk of a stream)."""
    responder: Callable[[Mapping[str, Any]], Answer] | None = None
    """Computes the answer to a chat request body when none is scripted."""
    requests: list[Received] = field(default_factory=list)
    answers: deque[Answer] = field(default_factory=deque)
    faults: deque[Fault] = field(default_factory=deque)
    url: str = ""
    """``http://127.0.0.1:<port>`` once started (the API is under ``/v1``)."""
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    # --- scripting -------------------------------------------------------------------------

    def answer(self, *answers: Answer) -> None:
        """The next chat answers, in order: text, or a JSON object."""
        self.answers.extend(answers)

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
        return [r.body for r in self.requests if r.path == "/v1/chat/completions"]

    def environment(self) -> dict[str, str]:
        """Environment for a platform that should talk to this stand-in."""
        return {"KRALIKI_OPENAI_BASE_URL": f"{self.url}/v1"}

    # --- serving ---------------------------------------------------------------------------

    async def start(self) -> None:
        from kernel.testing import serve_app

        self.url = await self._stack.enter_async_context(serve_app(self.app))

    async def stop(self) -> None:
        await self._stack.aclose()

    async def __aenter__(self) -> OpenAIStandIn:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def app(self) -> Starlette:
        """The ASGI app: every path reaches :meth:`handle`, which answers as OpenAI would."""
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        return Starlette(routes=[Route("/{path:path}", self.handle, methods=methods)])

    async def handle(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        authorization = request.headers.get("authorization", "")
        key = authorization[7:] if authorization.startswith("Bearer ") else None
        path = request.url.path
        self.requests.append(Received(request.method, path, body, key))
        if self.faults:
            return fault_response(self.faults.popleft())
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
        if route == ("POST", "/v1/chat/completions"):
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
        if self.answers:
            found: Answer = self.answers.popleft()
        elif self.responder is not None:
            found = self.responder(body)
        else:
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


def fault_response(fault: Fault) -> JSONResponse:
    headers = {"retry-after": fault.retry_after} if fault.retry_after is not None else {}
    if fault.status == 429:
        return error(
            429,
            "Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1.",
            "requests",
            code=fault.code or "rate_limit_exceeded",
            headers=headers,
        )
    if fault.status >= 500:
        return error(
            fault.status,
            "The server had an error while processing your request.",
            "server_error",
            code=fault.code,
            headers=headers,
        )
    return error(
        fault.status,
        "The request was refused.",
        "invalid_request_error",
        code=fault.code,
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


def example_of(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Any:
    """The smallest document of ``schema`` (every property present, the first of each
    choice), ``$ref`` resolved against ``root``."""
    if "$ref" in schema:
        target: Any = root
        for part in str(schema["$ref"]).lstrip("#/").split("/"):
            target = target[part]
        return example_of(target, root)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for choice in ("anyOf", "oneOf", "allOf"):
        if choice in schema:
            return example_of(schema[choice][0], root)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        return {k: example_of(v, root) for k, v in (schema.get("properties") or {}).items()}
    if kind == "array":
        return []
    if kind in ("number", "integer"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        return low if kind == "integer" else float(low)
    return {"string": "", "boolean": False, "null": None}.get(str(kind), "")


def tokens(text: str) -> int:
    """A deterministic stand-in for a tokenizer: one token per word or sign."""
    return len(re.findall(r"\w+|[^\w\s]", text))


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


def pieces(text: str) -> list[str]:
    """``text`` cut as a model writes it: a word (with its leading space) at a time."""
    return re.findall(r"\s*\S+", text) or [text]


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
