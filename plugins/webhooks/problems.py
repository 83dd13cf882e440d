"""Problem types of the webhooks plugin (RFC 9457, ``/problems/<slug>``)."""

from __future__ import annotations

from kernel import define_problem

URL_REFUSED = define_problem(
    "webhooks-url-refused",
    "Webhook URL refused",
    422,
    "The URL cannot receive webhooks: `reason` says why (`invalid-url`, `https-required`, "
    "`private-address`: it is or resolves to a loopback, private, link-local or other "
    "non-public address, `unresolvable`). Only the platform operator can allow private "
    "networks.",
)
UNKNOWN_EVENT_TYPE = define_problem(
    "webhooks-unknown-event-type",
    "Unknown event type",
    422,
    "An event pattern matches no event type the platform publishes; `patterns` lists them "
    "(see `GET /api/v1/webhooks/event-types`).",
)
EVENT_NOT_PERMITTED = define_problem(
    "webhooks-event-not-permitted",
    "Event type not permitted",
    403,
    "The patterns match event types whose read permission you do not hold; `events` lists "
    "them. Narrow the patterns, or ask for the permissions.",
)
TOO_MANY_ENDPOINTS = define_problem(
    "webhooks-too-many-endpoints",
    "Too many webhook endpoints",
    409,
    "The organization has as many webhook endpoints as the platform allows; delete one first.",
)
ENDPOINT_NOT_FOUND = define_problem(
    "webhooks-endpoint-not-found",
    "Webhook endpoint not found",
    404,
    "No webhook endpoint of your organization has this id.",
)
DELIVERY_NOT_FOUND = define_problem(
    "webhooks-delivery-not-found",
    "Webhook delivery not found",
    404,
    "No webhook delivery of your organization has this id.",
)
ENDPOINT_DISABLED = define_problem(
    "webhooks-endpoint-disabled",
    "Webhook endpoint disabled",
    409,
    "The endpoint is disabled: enable it (`POST .../enable`) before replaying deliveries to it.",
)
