"""Calling the Telnyx REST API: the SDK client, which of its errors are worth a retry, and
how a refusal reaches the tenant.

The SDK's own retries are off (``max_retries=0``): ``platform.resilience`` retries, times
out and keeps the (tenant, telnyx) circuit breaker. The SDK is imported inside the functions
because importing it takes more than a second.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import httpx

from kernel import RejectedError, TransientError
from plugins.calls import ProviderContext, ProviderRefused
from plugins.telnyx.config import settings_of

if TYPE_CHECKING:
    from telnyx import AsyncTelnyx

T = TypeVar("T")
DEPENDENCY = "telnyx"
"""The breaker's and the metrics' name for Telnyx."""


def load_sdk() -> None:
    """Import the SDK and the call-control resources it would otherwise import on first use
    (about 4 s of CPU together: inside a webhook that would stall every call of the worker)."""
    import telnyx.resources.calls.actions  # noqa: F401


def make_client(api_key: str, *, base_url: str, http: httpx.AsyncClient) -> AsyncTelnyx:
    """An SDK client for one use. Empty OAuth and public-key arguments keep the SDK from
    reading ``TELNYX_*`` variables of the process: the tenant's key is the only credential."""
    from telnyx import AsyncTelnyx

    return AsyncTelnyx(
        api_key=api_key,
        base_url=base_url,
        http_client=http,
        max_retries=0,
        client_id="",
        client_secret="",
        public_key="",
    )


def classify(exc: Exception) -> Literal["transient", "rejected"] | None:
    """5xx, 408 and 429 and connection trouble are worth another attempt; any other 4xx is
    Telnyx refusing the request."""
    import telnyx

    if isinstance(exc, telnyx.APIStatusError):
        status = exc.status_code
        if status >= 500 or status in (408, 429):
            return "transient"
        return "rejected" if status >= 400 else None
    if isinstance(exc, telnyx.APIConnectionError):  # APITimeoutError included
        return "transient"
    return None


async def api_key(context: ProviderContext, *, purpose: str) -> str:
    """The tenant's API key, decrypted for this one use (audited with ``purpose``)."""
    secret = await context.secret("telnyx.api_key", purpose=purpose)
    if secret is None:
        raise ProviderRefused(
            "Telnyx is not set up for this tenant: store telnyx.api_key in the vault",
            code="not-configured",
        )
    return secret.reveal()


async def client_for(context: ProviderContext, *, purpose: str) -> AsyncTelnyx:
    key = await api_key(context, purpose=purpose)
    return make_client(
        key,
        base_url=settings_of(context.platform).api_base_url,
        http=context.platform.resilience.http,
    )


async def call_api(context: ProviderContext, operation: Callable[[], Awaitable[T]]) -> T:
    """Run one REST operation through the resilience helper; a refusal becomes
    :class:`ProviderRefused` carrying Telnyx's error code and title."""

    async def attempt() -> T:
        try:
            return await operation()
        except Exception as exc:
            wait = _asked_wait(exc)
            if wait is None:
                raise
            status = getattr(exc, "status_code", None)
            raise TransientError(
                DEPENDENCY, f"telnyx answered {status}", status=status, retry_after=wait
            ) from exc

    try:
        return await context.call(attempt, classify=classify)
    except RejectedError as exc:
        raise refusal(exc) from exc


def refusal(exc: RejectedError) -> ProviderRefused:
    """Telnyx's first error (``{"errors": [{"code", "title", "detail"}]}``) in words."""
    error = first_error(exc.__cause__)
    code = str(error.get("code")) if error.get("code") is not None else None
    title = str(error.get("title") or "").strip()
    detail = str(error.get("detail") or "").strip()
    words = title or "the request was refused"
    if detail and detail != title:
        words = f"{words}: {detail}"
    status = f" ({exc.status})" if exc.status else ""
    return ProviderRefused(f"Telnyx refused the request{status}: {words}"[:400], code=code)


def first_error(exc: BaseException | None) -> dict[str, Any]:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return errors[0]
    return {}


def _asked_wait(exc: Exception) -> float | None:
    """Seconds Telnyx asked us to wait (``Retry-After`` on a 429 or 503), else None."""
    response = getattr(exc, "response", None)
    if not isinstance(response, httpx.Response) or response.status_code not in (429, 503):
        return None
    value = response.headers.get("retry-after", "").strip()
    return float(value) if value.isdigit() else None
