"""A real HTTP server on loopback that fails on demand.

It speaks just enough HTTP/1.1 for httpx (one request per connection) and counts
every request it receives, so a test can tell a call that failed fast from one that reached
the dependency.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass, field


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"ok": true}'
    hang: bool = False
    """Never answer (the client's timeout has to fire)."""


@dataclass
class Hit:
    method: str
    path: str
    headers: dict[str, str]


class FlakyServer:
    """``fail_next(n)``, ``always(Reply(...))``, ``then(Reply(...))``; ``hits`` counts."""

    def __init__(self) -> None:
        self.script: deque[Reply] = deque()
        self.default = Reply()
        self.received: list[Hit] = []
        self.url = ""
        self._stop = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def hits(self) -> int:
        return len(self.received)

    def fail_next(self, count: int, status: int = 503, **headers: str) -> None:
        self.script.extend(Reply(status, dict(headers), b"upstream trouble") for _ in range(count))

    def then(self, reply: Reply) -> None:
        self.script.append(reply)

    def always(self, reply: Reply) -> None:
        self.script.clear()
        self.default = reply

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        host, port = self._server.sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        self._stop.set()  # hanging handlers return
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        self._stop.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            request_line, *lines = head.split("\r\n")
            method, path, _ = request_line.split(" ", 2)
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(":") for line in lines if line)
            }
            if int(headers.get("content-length", "0")):
                await reader.readexactly(int(headers["content-length"]))
            self.received.append(Hit(method, path, headers))
            reply = self.script.popleft() if self.script else self.default
            if reply.hang:
                await self._stop.wait()
                return
            extra = "".join(f"{name}: {value}\r\n" for name, value in reply.headers.items())
            writer.write(
                f"HTTP/1.1 {reply.status} X\r\ncontent-length: {len(reply.body)}\r\n"
                f"content-type: application/json\r\nconnection: close\r\n{extra}\r\n".encode()
                + reply.body
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
