"""Talking to the Twilio REST API through the official SDK and the platform's resilience helper.

The SDK's ``Client`` has no base URL: requests go to ``https://api.twilio.com``. The HTTP
client handed to it here sends them with the platform's shared ``httpx`` client (one
connection pool per worker, traced) and to ``KRALIKI_TWILIO_API_BASE_URL`` instead, so a
stand-in can take Twilio's place. The SDK's own retries are not used: every request runs
inside ``platform.resilience`` (timeout, retries, the (tenant, twilio) circuit breaker).
"""

from __future__ import annotations

import logging
import re
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx
from twilio.base.exceptions import (  # type: ignore[import-untyped]
    TwilioRestException,
    TwilioServiceException,
)
from twilio.http import AsyncHttpClient  # type: ignore[import-untyped]
from twilio.http.response import Response  # type: ignore[import-untyped]

from kernel import Platform, RejectedError
from plugins.calls import ProviderRefused
from plugins.twilio.config import TWILIO_API, settings_of

DEPENDENCY = "twilio"
logger = logging.getLogger("kraliki.twilio")
_SDK_PREFIX = re.compile(r"^Unable to \w+ record:? ?")
TWILIO_ERRORS = (TwilioRestException, TwilioServiceException)


class RoutedHttpClient(AsyncHttpClient):  # type: ignore[misc]
    """The SDK's async HTTP client contract over ``httpx``, sending ``*.twilio.com`` API
    requests to ``base_url`` when that is not Twilio itself."""

    def __init__(self, http: httpx.AsyncClient, *, base_url: str, timeout: float) -> None:
        super().__init__(logger, True, timeout)
        self._http = http
        self._base_url = base_url
        self.retry_after: float | None = None
        """What the last answer's ``Retry-After`` asked for (429)."""

    async def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (the SDK's signature)
        allow_redirects: bool = False,
    ) -> Any:
        # No request logging: the SDK's own would log URLs and headers at INFO.
        response = await self._http.request(
            method,
            route(uri, self._base_url),
            params=params,  # type: ignore[arg-type]
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout or self.timeout,
            follow_redirects=allow_redirects,
        )
        self.retry_after = retry_after_seconds(response.headers.get("retry-after"))
        return Response(response.status_code, response.text, response.headers)


def route(url: str, base_url: str) -> str:
    """``url`` as it is really sent: a Twilio URL moves to ``base_url`` when that is not
    Twilio itself (a stand-in); anything else is left alone."""
    parts = urlsplit(url)
    if base_url.rstrip("/") == TWILIO_API or not is_twilio_host(parts.hostname):
        return url
    base = urlsplit(base_url)
    path = base.path.rstrip("/") + parts.path
    return urlunsplit((base.scheme, base.netloc, path, parts.query, ""))


def is_twilio_host(host: str | None) -> bool:
    return host is not None and (host == "twilio.com" or host.endswith(".twilio.com"))


def make_client(
    platform: Platform, *, account_sid: str, auth_token: str
) -> tuple[Any, RoutedHttpClient]:
    """A ``twilio.rest.Client`` for one operation (keep it no longer: it holds the token)."""
    from twilio.rest import Client  # type: ignore[import-untyped]  # ~0.2 s: on first use

    settings = settings_of(platform)
    http = RoutedHttpClient(
        platform.resilience.http,
        base_url=settings.api_base_url,
        timeout=settings.timeout_seconds,
    )
    # The environment is not consulted for credentials (TWILIO_ACCOUNT_SID...): they are
    # always given. TWILIO_REGION/TWILIO_EDGE still apply, as the SDK documents.
    client = Client(
        username=account_sid, password=auth_token, account_sid=account_sid, http_client=http
    )
    return client, http


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` in delay-seconds (the form Twilio uses); None otherwise."""
    value = (value or "").strip()
    return float(value) if value.isdigit() else None


def twilio_status(exc: BaseException) -> int | None:
    status = getattr(exc, "status", None) if isinstance(exc, TWILIO_ERRORS) else None
    return status if isinstance(status, int) else None


def classify(exc: Exception) -> Literal["transient", "rejected"] | None:
    """Twilio's 5xx, 408 and 429 are worth retrying; any other 4xx is a refusal."""
    status = twilio_status(exc)
    if status is None:
        return None  # timeouts and connection errors: the helper's defaults
    if status >= 500 or status in (408, 429):
        return "transient"
    return "rejected" if status >= 400 else None


def refusal(exc: RejectedError) -> ProviderRefused:
    """A rejection as the tenant may see it: Twilio's message and error code (they describe
    the tenant's own request, such as an invalid number; never a credential)."""
    cause = exc.__cause__
    code = getattr(cause, "code", None)
    message = getattr(cause, "msg", None) or getattr(cause, "detail", None) or ""
    # The SDK prefixes Twilio's message with its own ("Unable to create record: ...").
    message = _SDK_PREFIX.sub("", str(message)).strip()
    status = twilio_status(cause) if cause is not None else exc.status
    detail = f"Twilio refused the request (HTTP {status}, error {code})"
    return ProviderRefused(
        f"{detail}: {message}" if message else detail,
        code=str(code) if code is not None else None,
    )
