"""A real webhook receiver for tests: uvicorn on loopback, recording what it is sent.

For this plugin's tests and for anyone checking a Kraliki webhook integration end to end::

    async with WebhookReceiver() as receiver:
        ...  # create an endpoint for receiver.url + "/hook" (operator allowance on)
        receiver.fail_next(2)          # answer 500 twice, then 200
        [request] = receiver.requests  # path, headers, body
        receiver.verify(secret, request)  # Standard Webhooks check (raises on a bad one)

It acts like a well-behaved, idempotent receiver: a request it answers with 2xx is
*processed* once per ``webhook-id`` (``processed``), a repeated id is acknowledged and
ignored. Loopback addresses are refused by the SSRF policy unless the operator allows them
(``KRALIKI_WEBHOOKS_ALLOW_PRIVATE_NETWORKS=true``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b'{"ok":true}'
    delay: float = 0.0
    """Seconds to wait before answering (longer than the sender's timeout: it times out)."""
    process: bool | None = None
    """Process the event even though the answer is not 2xx (a receiver that committed and
    then failed to answer); None: process on 2xx only."""


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """Start with ``async with`` (or ``start``/``stop``); ``url`` is ``http://127.0.0.1:<port>``."""

    default: Reply = field(default_factory=Reply)
    requests: list[ReceivedRequest] = field(default_factory=list)
    processed: list[ReceivedRequest] = field(default_factory=list)
    """Requests whose event took effect: one per ``webhook-id``, in arrival order."""
    url: str = ""
    _script: deque[Reply] = field(default_factory=deque)
    _paths: dict[str, Reply] = field(default_factory=dict)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    # -- scripting -----------------------------------------------------------------------

    def fail_next(self, count: int, status: int = 500, body: bytes = b"receiver trouble") -> None:
        """Answer the next ``count`` requests with ``status``."""
        self._script.extend(Reply(status, body) for _ in range(count))

    def then(self, reply: Reply) -> None:
        """Answer the next unscripted request with ``reply``."""
        self._script.append(reply)

    def always(self, reply: Reply, *, path: str | None = None) -> None:
        """Answer every unscripted request with ``reply`` (only those to ``path``, if given)."""
        if path is not None:
            self._paths[path] = reply
            return
        self._script.clear()
        self._paths.clear()
        self.default = reply

    def to(self, path: str) -> list[ReceivedRequest]:
        """The requests sent to ``path``."""
        return [r for r in self.requests if r.path == path]

    def events(self, path: str | None = None) -> list[dict[str, Any]]:
        """The envelopes processed (once each), optionally only those sent to ``path``."""
        return [r.json() for r in self.processed if path is None or r.path == path]

    async def wait_processed(self, count: int, seconds: float = 10) -> None:
        """Until ``count`` events took effect (TimeoutError after ``seconds``)."""
        async with asyncio.timeout(seconds):
            while len(self.processed) < count:
                self._arrived.clear()
                await self._arrived.wait()

    @staticmethod
    def verify(secret: str, request: ReceivedRequest) -> Any:
        """The envelope, if the request is signed with ``secret`` (the library's check,
        timestamp tolerance included); raises ``WebhookVerificationError`` otherwise."""
        return Webhook(secret).verify(request.body, request.headers)

    # -- serving -------------------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        received = ReceivedRequest(
            path=request.url.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )
        self.requests.append(received)
        reply = (
            self._script.popleft() if self._script else self._paths.get(received.path, self.default)
        )
        if reply.delay:
            await asyncio.sleep(reply.delay)
        ok = 200 <= reply.status < 300
        if (ok if reply.process is None else reply.process) and received.webhook_id not in {
            r.webhook_id for r in self.processed
        }:
            self.processed.append(received)
            self._arrived.set()
        return Response(reply.body, status_code=reply.status, media_type="application/json")

    async def start(self) -> None:
        from kernel.testing import serve_app

        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST"])])
        self.url = await self._stack.enter_async_context(serve_app(app))

    async def stop(self) -> None:
        await self._stack.aclose()

    async def __aenter__(self) -> WebhookReceiver:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
