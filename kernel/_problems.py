"""RFC 9457 problem details: one stable ``type`` per kind of error, for every error."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kernel._allow import allowed_methods
from kernel._storable import UnstorableValueError

logger = logging.getLogger("kraliki.problems")

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "/problems/"


@dataclass(frozen=True, slots=True)
class ProblemType:
    """A documented kind of error; its URI (``/problems/<slug>``) never changes."""

    slug: str
    title: str
    status: int
    description: str

    @property
    def uri(self) -> str:
        return PROBLEM_TYPE_PREFIX + self.slug


_PROBLEM_TYPES: dict[str, ProblemType] = {}

PROBLEMS_ATTRIBUTE = "__kraliki_problems__"
"""Set on a dependency by :func:`raises`: the problems every route using it may answer."""

_Call = TypeVar("_Call", bound=Callable[..., Any])


def define_problem(slug: str, title: str, status: int, description: str) -> ProblemType:
    """Declare a problem type; plugins call this at import time for their own errors."""
    problem = ProblemType(slug, title, status, description)
    existing = _PROBLEM_TYPES.get(slug)
    if existing is not None and existing != problem:
        raise ValueError(f"problem type {slug!r} is already defined differently")
    _PROBLEM_TYPES[slug] = problem
    return problem


def problem_types() -> list[ProblemType]:
    return sorted(_PROBLEM_TYPES.values(), key=lambda p: p.slug)


BAD_REQUEST = define_problem(
    "bad-request", "Bad request", 400, "The request is malformed or inconsistent."
)
UNAUTHENTICATED = define_problem(
    "unauthenticated",
    "Authentication required",
    401,
    "No valid credential was presented; send `Authorization: Bearer <token>`.",
)
FORBIDDEN = define_problem(
    "forbidden", "Forbidden", 403, "The credential is valid but lacks the permission required."
)
NOT_FOUND = define_problem(
    "not-found", "Not found", 404, "No such resource (or it is not visible to you)."
)
METHOD_NOT_ALLOWED = define_problem(
    "method-not-allowed", "Method not allowed", 405, "The resource does not support this method."
)
CONFLICT = define_problem(
    "conflict", "Conflict", 409, "The request conflicts with the resource's current state."
)
UNSUPPORTED_MEDIA_TYPE = define_problem(
    "unsupported-media-type", "Unsupported media type", 415, "Send a supported Content-Type."
)
VALIDATION_ERROR = define_problem(
    "validation-error",
    "Validation error",
    422,
    "The request did not validate; `errors` lists each failing field (`loc`) and why.",
)
RATE_LIMITED = define_problem(
    "rate-limited", "Too many requests", 429, "Slow down; retry after `Retry-After` seconds."
)
INTERNAL_ERROR = define_problem(
    "internal-error",
    "Internal server error",
    500,
    "An unexpected error; it was logged with the `instance` id given in the body.",
)
SERVICE_UNAVAILABLE = define_problem(
    "service-unavailable", "Service unavailable", 503, "A dependency is not ready; try later."
)
UNSTORABLE_VALUE = define_problem(
    "unstorable-value",
    "Value cannot be stored",
    422,
    "A value does not fit where it is kept: a number beyond its field's range, text longer "
    "than its field allows, or text or numbers no field holds (NUL, unpaired surrogates, "
    "NaN, Infinity); `field` names the field when known, `reason` says why.",
)
INVALID_CURSOR = define_problem(
    "invalid-cursor",
    "Invalid pagination cursor",
    400,
    "The `cursor` parameter is not one this list returned; start again without it.",
)


def problem_responses(*problems: ProblemType) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route (or router) that may answer these problems.

    The OpenAPI document then lists each one under its status, as ``application/problem+json``
    with the shared ``Problem`` schema, so that generated clients parse it and expose its
    ``type``. Problems that come from the kernel's own dependencies (authentication,
    pagination, idempotency keys) are documented without being listed here.
    """
    responses: dict[int | str, dict[str, Any]] = {}
    for problem in problems:
        entry = responses.setdefault(problem.status, {"x-problem-types": []})
        if problem.uri not in entry["x-problem-types"]:
            entry["x-problem-types"].append(problem.uri)
    for entry in responses.values():
        entry["description"] = describe_problem_types(entry["x-problem-types"])
    return responses


def describe_problem_types(uris: list[str]) -> str:
    """The description of a documented error status: the problem types it carries."""
    known = {problem.uri: problem for problem in _PROBLEM_TYPES.values()}
    lines = []
    for uri in uris:
        problem = known.get(uri)
        lines.append(f"- `{uri}`: {problem.title}" if problem else f"- `{uri}`")
    return "A problem; its `type` is one of:\n" + "\n".join(lines)


def raises(*problems: ProblemType) -> Callable[[_Call], _Call]:
    """Mark a dependency as answering ``problems``: every route that uses it documents them."""

    def mark(call: _Call) -> _Call:
        setattr(call, PROBLEMS_ATTRIBUTE, (*getattr(call, PROBLEMS_ATTRIBUTE, ()), *problems))
        return call

    return mark


# The generic type for each status an HTTPException (from FastAPI or Starlette) may carry.
_BY_STATUS = {
    p.status: p
    for p in (
        BAD_REQUEST,
        UNAUTHENTICATED,
        FORBIDDEN,
        NOT_FOUND,
        METHOD_NOT_ALLOWED,
        CONFLICT,
        UNSUPPORTED_MEDIA_TYPE,
        VALIDATION_ERROR,
        RATE_LIMITED,
        INTERNAL_ERROR,
        SERVICE_UNAVAILABLE,
    )
}


class ProblemError(Exception):
    """Raise anywhere in a request to answer with a problem+json body.

    ``extensions`` become extra members of the body (RFC 9457 section 3.2); never put
    secrets or raw input in them.
    """

    def __init__(
        self,
        problem: ProblemType,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or problem.title)
        self.problem = problem
        self.detail = detail
        self.headers = headers or {}
        self.extensions = extensions


def problem_response(
    problem: ProblemType,
    detail: str | None = None,
    *,
    status: int | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": problem.uri,
        "title": problem.title,
        "status": status or problem.status,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extensions)
    return JSONResponse(
        body, status_code=status or problem.status, headers=headers, media_type=PROBLEM_MEDIA_TYPE
    )


async def _handle_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(
        exc.problem,
        exc.detail,
        instance=request.url.path,
        headers=exc.headers,
        **exc.extensions,
    )


async def _handle_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    problem = _BY_STATUS.get(exc.status_code)
    detail: str | None = exc.detail if isinstance(exc.detail, str) else None
    headers = dict(exc.headers) if exc.headers else None
    if exc.status_code == 405:
        methods = allowed_methods(request.app, request.scope)
        if methods:
            headers = {**(headers or {}), "Allow": ", ".join(methods)}
    phrase = _phrase(exc.status_code)
    if problem is None:
        # No documented type for this status: RFC 9457 says use about:blank.
        body: dict[str, Any] = {"type": "about:blank", "title": phrase, "status": exc.status_code}
        if detail and detail != phrase:
            body["detail"] = detail
        return JSONResponse(body, exc.status_code, headers=headers, media_type=PROBLEM_MEDIA_TYPE)
    if detail == phrase:
        detail = None
    return problem_response(
        problem, detail, status=exc.status_code, instance=request.url.path, headers=headers
    )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def _handle_unstorable(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UnstorableValueError)
    extensions: dict[str, Any] = {"reason": exc.reason}
    if exc.field:
        extensions["field"] = exc.field
    return problem_response(UNSTORABLE_VALUE, str(exc), instance=request.url.path, **extensions)


async def _handle_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Never echo the rejected input: it may hold a password or an API key.
    errors = [
        {"loc": list(err.get("loc", ())), "message": err.get("msg", ""), "type": err.get("type")}
        for err in exc.errors()
    ]
    return problem_response(
        VALIDATION_ERROR,
        f"{len(errors)} field(s) failed validation",
        instance=request.url.path,
        errors=errors,
    )


class UnhandledErrorMiddleware:
    """Turns an unexpected exception into a 500 problem and logs it with an incident id.

    Sits inside Starlette's ServerErrorMiddleware so nothing of the exception (message,
    traceback, locals) reaches the client.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            incident = uuid.uuid4().hex
            logger.exception(
                "unhandled error on %s %s (incident %s)", scope["method"], scope["path"], incident
            )
            if started:
                raise
            response = problem_response(INTERNAL_ERROR, instance=f"urn:kraliki:incident:{incident}")
            await response(scope, receive, send)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _handle_problem)
    app.add_exception_handler(StarletteHTTPException, _handle_http)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    app.add_exception_handler(UnstorableValueError, _handle_unstorable)
    app.add_middleware(UnhandledErrorMiddleware)
