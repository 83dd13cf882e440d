"""What an outbound call can fail with, and the problem+json each failure answers.

A route that lets one of these escape answers RFC 9457 problem details: the client learns
which dependency failed and how, never the upstream body or anything of the request (which
may carry credentials).
"""

from __future__ import annotations

import math

from fastapi import Request
from fastapi.responses import JSONResponse

from kernel._problems import ProblemType, define_problem, problem_response

DEPENDENCY_UNAVAILABLE = define_problem(
    "dependency-unavailable",
    "Dependency unavailable",
    503,
    "An outside service this request needs has been failing and its circuit breaker is open, "
    "so it was not called; retry after `Retry-After` seconds when given.",
)
DEPENDENCY_FAILED = define_problem(
    "dependency-failed",
    "Dependency failed",
    502,
    "An outside service this request needs kept failing (server errors, throttling or "
    "connection errors) through every retry.",
)
DEPENDENCY_TIMEOUT = define_problem(
    "dependency-timeout",
    "Dependency timed out",
    504,
    "An outside service this request needs did not answer in time, through every retry.",
)
DEPENDENCY_REJECTED = define_problem(
    "dependency-rejected",
    "Dependency rejected the request",
    502,
    "An outside service refused the request (authentication, permission or validation); "
    "check the integration's configuration and credentials.",
)


class DependencyError(Exception):
    """An outbound call to ``dependency`` failed. Messages never hold upstream bodies,
    request headers or credentials, so they are safe to log and to show."""

    problem: ProblemType = DEPENDENCY_FAILED
    """The problem type a route answers with when this escapes it."""

    def __init__(self, dependency: str, message: str | None = None, *, status: int | None = None):
        self.dependency = dependency
        self.status = status
        """The upstream HTTP status, when there was one."""
        super().__init__(message or f"{self.problem.title.lower()}: {dependency}")

    def public_detail(self) -> str:
        """The ``detail`` shown to API clients: built from the dependency name and status
        only, never from the message (a plugin may have put SDK text in it)."""
        status = f" (upstream status {self.status})" if self.status else ""
        return f"{self.dependency} kept failing{status}"

    def retry_after_header(self) -> str | None:
        return None


class TransientError(DependencyError):
    """A failure worth retrying (timeout, connection error, 5xx, 429). Counts against the
    circuit breaker. ``retry_after`` is the wait, in seconds, the dependency asked for."""

    def __init__(
        self,
        dependency: str,
        message: str | None = None,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        timed_out: bool = False,
    ) -> None:
        self.retry_after = retry_after
        self.timed_out = timed_out
        if timed_out:
            self.problem = DEPENDENCY_TIMEOUT  # an instance attribute: 504 rather than 502
        super().__init__(dependency, message, status=status)

    def public_detail(self) -> str:
        if self.timed_out:
            return f"{self.dependency} did not answer in time"
        return super().public_detail()


class RejectedError(DependencyError):
    """The dependency answered and refused (a 4xx such as 400, 401, 403, 404, 422): retrying
    cannot help and the dependency is healthy, so it neither retries nor counts against the
    circuit breaker."""

    problem = DEPENDENCY_REJECTED

    def public_detail(self) -> str:
        status = f" (upstream status {self.status})" if self.status else ""
        return f"{self.dependency} refused the request{status}"


class CircuitOpenError(DependencyError):
    """The breaker for (tenant, dependency) is open: the call was not made. ``retry_after`` is
    the number of seconds until the breaker lets a trial call through, when known (a breaker
    forced open by an administrator has none)."""

    problem = DEPENDENCY_UNAVAILABLE

    def __init__(
        self, dependency: str, *, retry_after: float | None = None, forced: bool = False
    ) -> None:
        self.retry_after = retry_after
        self.forced = forced
        how = "forced open by an administrator" if forced else "open"
        super().__init__(dependency, f"circuit breaker for {dependency} is {how}")

    def public_detail(self) -> str:
        return str(self)

    def retry_after_header(self) -> str | None:
        if self.retry_after is None:
            return None
        return str(max(1, math.ceil(self.retry_after)))


async def handle_dependency_error(request: Request, exc: Exception) -> JSONResponse:
    """Exception handler: a :class:`DependencyError` that escaped a route, as problem+json."""
    assert isinstance(exc, DependencyError)
    retry_after = exc.retry_after_header()
    return problem_response(
        exc.problem,
        exc.public_detail(),
        instance=request.url.path,
        headers={"Retry-After": retry_after} if retry_after else None,
        dependency=exc.dependency,
    )
