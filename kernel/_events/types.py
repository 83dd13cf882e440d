"""What an event is: a typed payload a plugin declares, and the envelope consumers receive."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from kernel._principal import Principal

EVENT_NAME = re.compile(r"^[a-z][a-z0-9_-]*\.[a-z][a-z0-9_-]*\.[a-z][a-z0-9_-]*$")
EVENT_PATTERN = re.compile(r"^[a-z0-9_*-]+(\.[a-z0-9_*-]+)*$")


class Event(BaseModel):
    """Base class of every domain event's payload.

    A subclass names the event ``<plugin>.<noun>.<verb>`` (``calls.call.answered``), the
    permission a subscriber needs to see it, and the payload field that identifies its
    aggregate (events of one aggregate are delivered in the order they were published)::

        class CallAnswered(Event):
            name = "calls.call.answered"
            permission = "calls:read"
            aggregate = "call_id"

            call_id: uuid.UUID
            answered_by: str | None = None

    Bump ``version`` when the payload changes incompatibly; consumers receive it with the
    event. Payloads are data for other tenants' systems (webhooks): never put secrets in one.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ClassVar[str]
    permission: ClassVar[str]
    """``<resource>:<action>`` a WebSocket/SSE subscriber's roles must hold to receive it."""
    aggregate: ClassVar[str | None] = None
    """Payload field holding the aggregate id (None: the event is its own aggregate)."""
    version: ClassVar[int] = 1
    description: ClassVar[str] = ""
    audience: ClassVar[str | None] = None
    """A payload field holding the id of the user the event concerns (the agent who took a
    payment): a subscriber without ``audience_permission`` receives only the events whose
    field names them. None: everyone with ``permission`` receives every event."""
    audience_permission: ClassVar[str | None] = None
    """``<resource>:<action>`` that receives every event of an ``audience`` type; webhook
    subscriptions need it (an endpoint is nobody's own)."""

    @classmethod
    def readable_by(cls, principal: Principal) -> bool:
        """Whether ``principal``'s roles hold this event's read permission (real-time
        subscribers, webhook subscriptions)."""
        resource, _, action = cls.permission.partition(":")
        return principal.can(resource, action)

    @classmethod
    def sees_all(cls, principal: Principal) -> bool:
        """Whether ``principal`` receives every event of this type it may read, not only
        those of its :attr:`audience`."""
        if cls.audience is None or cls.audience_permission is None:
            return True
        resource, _, action = cls.audience_permission.partition(":")
        return principal.can(resource, action)

    @classmethod
    def addressed_to(cls, principal: Principal, payload: Mapping[str, Any]) -> bool:
        """Whether an event with ``payload`` concerns ``principal`` (its audience field names
        the user); only asked when :meth:`sees_all` is False."""
        if cls.audience is None or principal.kind != "user":
            return cls.audience is None
        return str(payload.get(cls.audience)) == principal.subject

    def aggregate_key(self) -> str:
        """``<plugin>.<noun>:<id>``: events sharing it are delivered in publication order."""
        noun = self.name.rsplit(".", 1)[0]
        if self.aggregate is None:
            return noun
        return f"{noun}:{getattr(self, self.aggregate)}"


@dataclass(frozen=True, slots=True)
class DeliveredEvent:
    """A committed event as consumers see it (``kraliki_event``, real-time stream, webhooks).

    Delivery is at least once: a consumer that acts on an event must do so idempotently,
    keyed by ``id``. ``position`` orders a tenant's events as they were dispatched (gap-free
    per tenant); events of one aggregate always arrive in publication order.
    """

    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    version: int
    occurred_at: datetime
    aggregate: str
    payload: dict[str, Any]
    position: int
    trace_id: str | None = None

    def envelope(self) -> dict[str, Any]:
        """The JSON form sent to real-time subscribers and webhook receivers."""
        return {
            "id": str(self.id),
            "type": self.name,
            "version": self.version,
            "tenant_id": str(self.tenant_id),
            "occurred_at": self.occurred_at.isoformat().replace("+00:00", "Z"),
            "aggregate": self.aggregate,
            "position": self.position,
            "data": self.payload,
        }


def check_event_type(event_type: type[Event]) -> None:
    """Raise ValueError when a declared event class is malformed."""
    name = getattr(event_type, "name", None)
    if not isinstance(name, str) or not EVENT_NAME.match(name):
        raise ValueError(
            f"event {event_type.__name__} must set name = '<plugin>.<noun>.<verb>' "
            f"(lower case), not {name!r}"
        )
    permission = getattr(event_type, "permission", None)
    if not isinstance(permission, str) or ":" not in permission:
        raise ValueError(f"event {name} must set permission = '<resource>:<action>'")
    if event_type.aggregate is not None and event_type.aggregate not in event_type.model_fields:
        raise ValueError(f"event {name}: aggregate {event_type.aggregate!r} is not a field")


def check_pattern(pattern: str) -> str:
    """A subscription pattern: an event name where ``*`` matches any run of characters
    (``calls.call.*``, ``calls.*``, ``*.completed``, ``*``)."""
    if len(pattern) > 120 or not EVENT_PATTERN.match(pattern):
        raise ValueError(
            f"{pattern!r} is not an event pattern (lower-case names, dots, '*' wildcards)"
        )
    return pattern


def matches(patterns: tuple[str, ...] | list[str], name: str) -> bool:
    return any(fnmatchcase(name, pattern) for pattern in patterns)
