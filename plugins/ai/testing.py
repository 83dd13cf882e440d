"""Test helpers for model provider plugins and their authors: the plumbing of a local stand-in
for a provider's API, which the provider's real SDK talks to on loopback.

:class:`StandInServer` serves an ASGI app on a free loopback port (``url``), routes every
request to :meth:`~StandInServer.handle`, records it (``requests``), answers scripted faults
(:meth:`~StandInServer.fail_next`) and hands the scripted answers
(:meth:`~StandInServer.answer`, ``responder``) to the subclass, which speaks the wire format
(``plugins.openai.testing.OpenAIStandIn``, ``plugins.anthropic.testing.AnthropicStandIn``)::

    @dataclass
    class AcmeStandIn(StandInServer[Received]):
        def environment(self) -> dict[str, str]:
            return {"KRALIKI_ACME_BASE_URL": self.url}

        def received(self, request: Request, body: Any) -> Received:
            return Received(request.method, request.url.path, body,
                            request.headers.get("x-acme-key"))

        def refusal(self, fault: Fault) -> Response:  # a scripted fault, Acme's error body
            return JSONResponse({"error": "busy"}, status_code=fault.status)

        async def respond(self, request: Request, received: Received) -> Response:
            ...  # the key, the routes, the answer (self.scripted(body)), as Acme would

Also :func:`example_of` (the smallest document of a JSON schema), :func:`tokens` (a
deterministic tokenizer) and :func:`pieces` (text cut as a model streams it).
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["Answer", "Fault", "Received", "StandInServer", "example_of", "pieces", "tokens"]

Answer = str | Mapping[str, Any]
"""A scripted answer: text, or a JSON object (for a request asking for structured output)."""


@dataclass(frozen=True, slots=True)
class Received:
    """One request as the stand-in received it."""

    method: str
    path: str
    body: Any
    """The JSON body (its text if it is not JSON; None: empty)."""
    api_key: str | None
    """The key it presented, where the API carries it (None: none)."""


@dataclass(frozen=True, slots=True)
class Fault:
    """A scripted failure: the status of the next answer (and its ``retry-after``)."""

    status: int
    retry_after: str | None = None


ReceivedT = TypeVar("ReceivedT", bound=Received)


@dataclass
class StandInServer(ABC, Generic[ReceivedT]):
    """A provider's API on loopback: the scripting and serving every stand-in shares. A
    subclass says what a request presented (:meth:`received`), how the provider refuses
    (:meth:`refusal`) and answers (:meth:`respond`), and how a platform finds it
    (:meth:`environment`)."""

    api_key: str = field(default_factory=lambda: "sk-standin-" + secrets.token_hex(16))
    """The one key it accepts."""
    latency: float = 0.0
    """Seconds before each answer (before the first piece of a stream)."""
    responder: Callable[[Mapping[str, Any]], Answer] | None = None
    """Computes the answer to a request body when none is scripted."""
    requests: list[ReceivedT] = field(default_factory=list)
    answers: deque[Answer] = field(default_factory=deque)
    faults: deque[Fault] = field(default_factory=deque)
    url: str = ""
    """``http://127.0.0.1:<port>`` once started."""
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    # --- scripting -------------------------------------------------------------------------

    def answer(self, *answers: Answer) -> None:
        """The next answers, in order: text, or a JSON object."""
        self.answers.extend(answers)

    def fail_next(
        self, count: int = 1, status: int = 429, *, retry_after: str | None = None
    ) -> None:
        """The next ``count`` requests answer ``status`` with the provider's error body (and a
        ``retry-after`` header when given)."""
        self.faults.extend(Fault(status, retry_after) for _ in range(count))

    def scripted(self, body: Mapping[str, Any]) -> Answer | None:
        """The next scripted answer, else the :attr:`responder`'s for ``body``, else None (the
        stand-in answers its own)."""
        if self.answers:
            return self.answers.popleft()
        if self.responder is not None:
            return self.responder(body)
        return None

    def bodies(self, path: str) -> list[Any]:
        """The bodies of the requests it received at ``path``, in order."""
        return [r.body for r in self.requests if r.path == path]

    @abstractmethod
    def environment(self) -> dict[str, str]:
        """Environment for a platform that should talk to this stand-in."""

    # --- serving ---------------------------------------------------------------------------

    async def start(self) -> None:
        from kernel.testing import serve_app

        self.url = await self._stack.enter_async_context(serve_app(self.app))

    async def stop(self) -> None:
        await self._stack.aclose()

    async def __aenter__(self) -> Self:
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
        """The ASGI app: every path reaches :meth:`handle`, which answers as the provider
        would."""
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        return Starlette(routes=[Route("/{path:path}", self.handle, methods=methods)])

    async def handle(self, request: Request) -> Response:
        """Records the request, then answers the next scripted fault, or :meth:`respond`."""
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        received = self.received(request, body)
        self.requests.append(received)
        if self.faults:
            return self.refusal(self.faults.popleft())
        return await self.respond(request, received)

    @abstractmethod
    def received(self, request: Request, body: Any) -> ReceivedT:
        """The request as recorded: ``body`` is parsed already."""

    @abstractmethod
    def refusal(self, fault: Fault) -> Response:
        """The answer to a request that meets a scripted fault, in the provider's error body."""

    @abstractmethod
    async def respond(self, request: Request, received: ReceivedT) -> Response:
        """The answer to a request without a scripted fault, as the provider would give it."""


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


def pieces(text: str) -> list[str]:
    """``text`` cut as a model writes it: a word (with its leading space) at a time."""
    return re.findall(r"\s*\S+", text) or [text]
