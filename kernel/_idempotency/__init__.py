"""Idempotency keys for side-effecting POSTs (internal; plugins use ``kernel.IdempotencyKeyHeader``,
``kernel.IdempotencyClaim`` and ``platform.idempotency``)."""
