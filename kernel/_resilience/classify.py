"""Which failures are worth retrying: the classification of exceptions and HTTP answers.

The messages built here name the dependency, the exception type or the status only: never
an upstream body, a URL (query strings carry keys) or a request header.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

import httpx

from kernel._resilience.errors import DependencyError, RejectedError, TransientError

Classification = Literal["transient", "rejected", "other"]
Classifier = Callable[[Exception], Classification | None]
"""Maps an exception of the plugin's SDK to a class; ``None`` leaves it to the defaults."""

TRANSIENT_STATUSES = frozenset({408, 429})
"""4xx answers that are about timing, not about the request: retried like a 5xx."""


def classify_exception(
    dependency: str, exc: Exception, classify: Classifier | None = None
) -> DependencyError | None:
    """The :class:`DependencyError` that ``exc`` amounts to, or None for an error that is
    not the dependency's (a bug, an unknown SDK error): that one propagates unchanged."""
    if isinstance(exc, DependencyError):
        return exc
    verdict = classify(exc) if classify is not None else None
    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    kind = type(exc).__name__
    if verdict == "transient":
        return TransientError(dependency, f"{dependency} failed ({kind})", status=status)
    if verdict == "rejected":
        return RejectedError(
            dependency, f"{dependency} refused the request ({kind})", status=status
        )
    if verdict == "other":
        return None
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return TransientError(dependency, f"{dependency} did not answer in time", timed_out=True)
    if isinstance(exc, httpx.TransportError) and not isinstance(exc, httpx.UnsupportedProtocol):
        return TransientError(dependency, f"{dependency} could not be reached ({kind})")
    return None


def check_response(dependency: str, response: httpx.Response, *, max_wait: float) -> None:
    """Raise for an answer that is not a success: 5xx, 408 and 429 are transient (with the
    ``Retry-After`` they ask for, capped at ``max_wait``), any other 4xx is a rejection."""
    status = response.status_code
    if status >= 500 or status in TRANSIENT_STATUSES:
        wait = retry_after_seconds(response.headers.get("retry-after"))
        raise TransientError(
            dependency,
            f"{dependency} answered {status}",
            status=status,
            retry_after=min(wait, max_wait) if wait is not None else None,
        )
    if status >= 400:
        raise RejectedError(dependency, f"{dependency} answered {status}", status=status)


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delay-seconds or an HTTP-date (RFC 9110 10.2.3);
    None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
