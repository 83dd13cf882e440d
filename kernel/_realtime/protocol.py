"""What travels on the real-time stream: client messages, server messages, close codes, and
their Server-Sent Events form (``docs/realtime.md`` is the reference)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from kernel._events.types import DeliveredEvent, check_pattern

SUBPROTOCOL = "kraliki.v1"
"""The WebSocket subprotocol the server selects."""
BEARER_SUBPROTOCOL = "bearer."
"""Prefix of the subprotocol that carries the credential (``bearer.<token>``)."""

# Close codes (WebSocket close frames; the SSE ``close`` event carries the same numbers).
GOING_AWAY = 1001
"""The server is shutting down: reconnect (to another worker) and resume."""
INTERNAL_ERROR = 1011
TRY_AGAIN_LATER = 1013
"""Rate-limited at connect: retry later."""
UNAUTHENTICATED = 4001
"""No credential, a bad one, or one revoked while connected."""
FORBIDDEN = 4003
"""The credential may not subscribe (no tenant, no ``events:subscribe``, tenant suspended)."""
TOO_SLOW = 4008
"""The client fell ``realtime_buffer_events`` events behind: reconnect and resume."""
BAD_MESSAGE = 4400
"""A message that is not JSON, not a known type, or fails validation."""

MAX_PATTERNS = 50

Pattern = Annotated[str, AfterValidator(check_pattern)]
Patterns = Annotated[list[Pattern], Field(min_length=1, max_length=MAX_PATTERNS)]


class AuthMessage(BaseModel):
    """``{"type": "auth", "token": "..."}``: the first message, unless the credential came
    as a subprotocol."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["auth"]
    token: str = Field(min_length=1, max_length=4096)


class SubscribeMessage(BaseModel):
    """``{"type": "subscribe", "patterns": [...], "last_event_id": "..."}``: what to receive
    (replaces earlier patterns); ``last_event_id`` replays what was missed after that event."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["subscribe"]
    patterns: Patterns
    last_event_id: str | None = Field(default=None, max_length=64)


ClientMessage = Annotated[AuthMessage | SubscribeMessage, Field(discriminator="type")]
_CLIENT_MESSAGE: TypeAdapter[AuthMessage | SubscribeMessage] = TypeAdapter(ClientMessage)


class BadMessage(ValueError):
    """A client message the server cannot take (closes with ``BAD_MESSAGE``)."""


def parse_client_message(raw: str) -> AuthMessage | SubscribeMessage:
    try:
        return _CLIENT_MESSAGE.validate_json(raw)
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in error["loc"]) or "message"
        raise BadMessage(f"{where}: {error['msg']}"[:120]) from None


# -- server messages ------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """One server message: its ``type`` and JSON body (without ``type``)."""

    type: str
    body: dict[str, Any]

    def text(self) -> str:
        return _dumps({"type": self.type, **self.body})


@dataclass(eq=False)
class Delivery:
    """An event on its way to subscribers; serialized once, however many receive it."""

    event: DeliveredEvent

    @cached_property
    def envelope_json(self) -> str:
        return _dumps(self.event.envelope())

    def text(self) -> str:
        return f'{{"type":"event","event":{self.envelope_json}}}'


HEARTBEAT = Outgoing("heartbeat", {})


def ready(patterns: tuple[str, ...], position: int, replayed: int) -> Outgoing:
    """The subscription is in force: live events follow the ``replayed`` missed ones."""
    body = {"patterns": list(patterns), "position": position, "replayed": replayed}
    return Outgoing("ready", body)


def reset(reason: Literal["unknown-event", "too-far-behind"], position: int) -> Outgoing:
    """Missed events cannot be replayed: reload state, then follow the live events."""
    return Outgoing("reset", {"reason": reason, "position": position})


def error(code: int, message: str) -> Outgoing:
    """Sent just before the connection closes with ``code``."""
    return Outgoing("error", {"code": code, "message": message})


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# -- Server-Sent Events -----------------------------------------------------------------


def sse_frame(item: Outgoing | Delivery) -> str:
    """An event as ``id``/``event``/``data`` fields; a control message as an event named
    after its type (no dots, so it cannot collide with an event name), except ``error``,
    which EventSource reserves, sent as ``close``; a heartbeat as a comment."""
    if isinstance(item, Delivery):
        return f"id: {item.event.id}\nevent: {item.event.name}\ndata: {item.envelope_json}\n\n"
    if item is HEARTBEAT:
        return ": heartbeat\n\n"
    name = "close" if item.type == "error" else item.type
    return f"event: {name}\ndata: {item.text()}\n\n"
