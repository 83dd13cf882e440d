"""The errors a client can get from an ``Idempotency-Key`` (listed in docs/api-conventions.md)."""

from __future__ import annotations

from kernel._problems import define_problem

KEY_INVALID = define_problem(
    "idempotency-key-invalid",
    "Invalid idempotency key",
    400,
    "The `Idempotency-Key` header must be 1 to 255 printable ASCII characters.",
)
KEY_REUSED = define_problem(
    "idempotency-key-reused",
    "Idempotency key reused",
    409,
    "This `Idempotency-Key` was used with a different request (another body, or another "
    "caller); send a new key for a new request.",
)
REQUEST_IN_PROGRESS = define_problem(
    "idempotency-request-in-progress",
    "Request in progress",
    409,
    "A request with this `Idempotency-Key` is still being processed; retry after "
    "`Retry-After` seconds to get its answer.",
)
