"""``platform.resilience``: the one way the platform and its plugins call outside services.

Each call gets a timeout per attempt, stamina retries on transient failures (honouring
``Retry-After``) and a circuit breaker per (tenant, dependency) that sits inside each attempt:
an open circuit fails fast and is not retried, and a rejection (4xx) is neither retried nor
counted against the breaker.
"""

from __future__ import annotations

import asyncio
import enum
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

import httpx
import stamina

from kernel._metrics import Metrics
from kernel._resilience.breakers import Breakers, check_dependency_name
from kernel._resilience.classify import Classifier, check_response, classify_exception
from kernel._resilience.errors import CircuitOpenError, RejectedError, TransientError
from kernel._settings import Settings
from kernel._shared.store import SharedStore
from kernel._tenancy import current_tenant_id

T = TypeVar("T")


class _Scope(enum.Enum):
    CURRENT = "current"


CURRENT_TENANT: Final = _Scope.CURRENT
"""Default of ``tenant_id``: the tenant in scope (:func:`kernel.current_tenant_id`)."""
TenantArg = uuid.UUID | None | _Scope


class Resilience:
    """Built once per platform (``Platform.resilience``); its breakers and HTTP connection
    pool are shared by every request of this worker."""

    wait_initial = 0.2
    """Seconds before the first retry; doubles each time up to the configured maximum."""
    wait_jitter = 0.2
    """Random extra wait (stamina's default of 1 s would dominate these short waits)."""

    def __init__(
        self,
        settings: Settings,
        metrics: Metrics,
        on_client: Callable[[httpx.AsyncClient], None] | None = None,
        shared: SharedStore | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self._on_client = on_client
        """Called with the shared client when it is created (the platform adds tracing)."""
        self.breakers = Breakers(
            threshold=settings.breaker_failure_threshold,
            reset_seconds=settings.breaker_reset_seconds,
            metrics=metrics,
            shared=shared,
        )
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        """The shared HTTP client (one connection pool per worker) that :meth:`request` uses.
        It does not follow redirects: a redirect is returned, like any 3xx."""
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.settings.outbound_timeout_seconds)
            if self._on_client is not None:
                self._on_client(self._http)
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def breaker_states(self, tenant_id: uuid.UUID | None) -> dict[str, str]:
        """The state of each breaker of ``tenant_id`` (None: the platform's own) by
        dependency: ``closed``, ``open``, ``half_open``, ``forced_open`` or ``forced_closed``.

        Only breakers that were called exist; without Redis they are this worker's
        (docs/adr/0012-circuit-breaker-state-per-worker.md). Dashboards and alerts read it."""
        states: dict[str, str] = {}
        for key in await self.breakers.keys(tenant_id):
            states[key[1]] = (await self.breakers.snapshot(key)).state
        return states

    async def call(
        self,
        dependency: str,
        operation: Callable[[], Awaitable[T]],
        *,
        tenant_id: TenantArg = CURRENT_TENANT,
        timeout: float | None = None,  # noqa: ASYNC109 (per attempt, inside the retries)
        attempts: int | None = None,
        classify: Classifier | None = None,
    ) -> T:
        """Await ``operation()`` with a timeout, retries and the (tenant, dependency) breaker.

        Args:
            dependency: What is called (``"telnyx"``, ``"openai"``): names the breaker and
                the metrics; lower case, digits, ``_.-``.
            operation: Makes one attempt; called again for each retry.
            tenant_id: Whose breaker: default the tenant in scope; ``None`` for platform calls.
            timeout: Seconds per attempt (default ``KRALIKI_OUTBOUND_TIMEOUT_SECONDS``).
            attempts: Attempts in all (default ``KRALIKI_OUTBOUND_ATTEMPTS``).
            classify: Maps an exception of your SDK to ``"transient"``, ``"rejected"`` or
                ``"other"`` (``None``: timeouts and connection errors are transient, the rest
                propagates unchanged).

        Raises:
            CircuitOpenError: The breaker is open; nothing was called.
            TransientError: Every attempt failed transiently (the last failure).
            RejectedError: The dependency refused the request.
        """
        check_dependency_name(dependency)
        if attempts is not None and attempts < 1:
            raise ValueError(f"attempts must be at least 1, not {attempts}")
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be positive, not {timeout}")
        tenant = current_tenant_id() if isinstance(tenant_id, _Scope) else tenant_id
        limit = timeout if timeout is not None else self.settings.outbound_timeout_seconds
        outcome = "error"
        try:
            async for attempt in stamina.retry_context(
                on=self._retry_wait,
                attempts=attempts if attempts is not None else self.settings.outbound_attempts,
                timeout=None,  # bounded by attempts x (timeout + wait) instead
                wait_initial=self.wait_initial,
                wait_max=self.settings.outbound_retry_max_wait_seconds,
                wait_jitter=self.wait_jitter,
            ):
                with attempt:
                    if attempt.num > 1:
                        self.metrics.outbound_retries.labels(dependency).inc()
                    result = await self._attempt(tenant, dependency, operation, limit, classify)
            outcome = "ok"
            return result
        except CircuitOpenError:
            outcome = "circuit_open"
            raise
        except TransientError:
            outcome = "transient"
            raise
        except RejectedError:
            outcome = "rejected"
            raise
        finally:
            self.metrics.outbound_calls.labels(dependency, outcome).inc()

    async def request(
        self,
        dependency: str,
        method: str,
        url: str,
        *,
        tenant_id: TenantArg = CURRENT_TENANT,
        timeout: float | None = None,  # noqa: ASYNC109 (per attempt, inside the retries)
        attempts: int | None = None,
        **httpx_kwargs: Any,
    ) -> httpx.Response:
        """An HTTP request through :meth:`call` with the shared client. 2xx and 3xx are
        returned; 5xx, 408 and 429 are transient (``Retry-After`` honoured, capped at
        ``KRALIKI_OUTBOUND_RETRY_MAX_WAIT_SECONDS``); other 4xx raise :class:`RejectedError`.
        ``httpx_kwargs`` go to ``httpx.AsyncClient.request`` (``json``, ``headers``, ...)."""
        limit = timeout if timeout is not None else self.settings.outbound_timeout_seconds
        max_wait = self.settings.outbound_retry_max_wait_seconds

        async def send() -> httpx.Response:
            response = await self.http.request(method, url, timeout=limit, **httpx_kwargs)
            check_response(dependency, response, max_wait=max_wait)
            return response

        return await self.call(
            dependency, send, tenant_id=tenant_id, timeout=limit, attempts=attempts
        )

    async def _attempt(
        self,
        tenant_id: uuid.UUID | None,
        dependency: str,
        operation: Callable[[], Awaitable[T]],
        limit: float,
        classify: Classifier | None,
    ) -> T:
        guard = await self.breakers.enter(tenant_id, dependency)
        try:
            async with asyncio.timeout(limit):
                result = await operation()
        except Exception as exc:
            error = classify_exception(dependency, exc, classify)
            if isinstance(error, TransientError):
                await guard.failed(error)
            if error is None or error is exc:
                raise
            raise error from exc
        await guard.succeeded()
        return result

    def _retry_wait(self, exc: Exception) -> bool | float:
        """stamina's ``on``: retry transient failures only; a float is the wait the
        dependency asked for (``Retry-After``), used instead of the backoff."""
        if not isinstance(exc, TransientError):
            return False
        if exc.retry_after is not None:
            return min(max(exc.retry_after, 0.0), self.settings.outbound_retry_max_wait_seconds)
        return True
