"""CORS: a browser frontend on another origin may use the REST API and the SSE stream.

Only the origins in ``KRALIKI_CORS_ORIGINS`` are answered (none by default: no CORS headers
at all). Requests from any other origin are handled as if CORS were off, so they learn
nothing of the policy. Credentials (the ``Authorization`` header, cookies) are allowed, and
the request and response headers the API uses are listed.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from kernel._problems import BAD_REQUEST, problem_response
from kernel._settings import Settings

ALLOW_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ALLOW_HEADERS = (
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "If-Match",
    "Last-Event-ID",
    "traceparent",
    "tracestate",
)
EXPOSE_HEADERS = (
    "ETag",
    "Location",
    "Retry-After",
    "Idempotent-Replayed",
    "WWW-Authenticate",
    "Allow",
)


class AllowedOriginsCORSMiddleware(CORSMiddleware):
    """Starlette's CORS handling for the allowed origins only; a refused preflight is a
    problem (400 ``/problems/bad-request``) like every other error."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = Headers(scope=scope).get("origin") if scope["type"] == "http" else None
        if origin is not None and self.is_allowed_origin(origin):
            await super().__call__(scope, receive, send)
            return

        async def vary_on_origin(message: Message) -> None:
            # The answer differs by Origin: caches must not hand it to an allowed origin.
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Vary"] = ", ".join([*headers.getlist("Vary"), "Origin"])
            await send(message)

        await self.app(scope, receive, vary_on_origin if scope["type"] == "http" else send)

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 200:
            return response
        headers = {
            key: value
            for key, value in response.headers.items()
            if key.lower().startswith("access-control-") or key.lower() == "vary"
        }
        detail = bytes(response.body).decode()  # "Disallowed CORS method, headers"
        return problem_response(BAD_REQUEST, detail, headers=headers)


def install_cors(app: FastAPI, settings: Settings) -> None:
    """Answer CORS for ``settings.cors_origins`` (outermost, so preflights skip the rest)."""
    if not settings.cors_origins:
        return
    app.add_middleware(
        AllowedOriginsCORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_credentials=True,
        allow_methods=list(ALLOW_METHODS),
        allow_headers=list(ALLOW_HEADERS),
        expose_headers=list(EXPOSE_HEADERS),
        max_age=settings.cors_max_age_seconds,
    )
