"""Events the webhooks plugin publishes: the tenant hears about endpoints in trouble.

They go to the tenant's other endpoints like any event, but never to the endpoint they are
about (which is failing, or disabled): that could loop forever.
"""

from __future__ import annotations

import uuid

from kernel import Event

TEST_EVENT_TYPE = "webhooks.endpoint.test"
"""The type of the envelope ``POST /endpoints/{id}/test`` sends (not an outbox event)."""


class EndpointDisabled(Event):
    """An endpoint kept failing and was disabled; re-enable it once the receiver is fixed."""

    name = "webhooks.endpoint.disabled"
    permission = "webhooks.endpoints:read"
    aggregate = "endpoint_id"
    description = "A webhook endpoint kept failing and was disabled automatically."

    endpoint_id: uuid.UUID
    reason: str
    consecutive_failures: int


class DeliveryDead(Event):
    """A delivery failed every scheduled attempt; replay it once the receiver is fixed."""

    name = "webhooks.delivery.dead"
    permission = "webhooks.deliveries:read"
    aggregate = "endpoint_id"
    description = "A webhook delivery failed every attempt and was dead-lettered."

    endpoint_id: uuid.UUID
    delivery_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    attempts: int


EVENT_TYPES: tuple[type[Event], ...] = (EndpointDisabled, DeliveryDead)


def about_endpoint(event_type: str, payload: dict[str, object]) -> str | None:
    """The endpoint a webhooks event is about (None for every other event)."""
    if not event_type.startswith("webhooks."):
        return None
    endpoint = payload.get("endpoint_id")
    return str(endpoint) if endpoint is not None else None
