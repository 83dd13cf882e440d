"""The OpenAPI document says what the app really answers, so that generated clients work.

FastAPI documents a 422 as ``application/json`` ``HTTPValidationError`` and nothing else,
while every error of this app is an RFC 9457 problem (``kernel._problems``) with its own
statuses, and it knows nothing of the platform's credentials. Rather than have each route
repeat all that, the kernel rewrites the generated document once, for every route of every
plugin:

* each documented error status is ``application/problem+json``: ``ValidationProblem`` for
  422, ``Problem`` for the others; its description lists the problem ``type`` URIs it
  carries (also as ``x-problem-types``);
* the problems a route may answer are gathered from what it declares
  (``responses=problem_responses(...)``), from the dependencies it uses (``require`` answers
  401, 403, 429 and, for a plugin an organization can disable, 404; pagination 400; an
  ``Idempotency-Key`` 400 and 409; see ``kernel._problems.raises``) and from its input (422);
* every operation has a ``default`` response, a ``Problem``: some problems (a dependency's
  503, a 500) can come from anywhere, so no route can list all of them;
* routes that require a permission name the security schemes (``accessToken``, ``apiKey``:
  both sent as ``Authorization: Bearer``); every operation and tag has a description.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from kernel._auth import PLUGIN_ATTRIBUTE, api_routes, dependency_calls, route_access
from kernel._identity.authn import TENANT_SUSPENDED
from kernel._problems import (
    FORBIDDEN,
    NOT_FOUND,
    PROBLEM_MEDIA_TYPE,
    PROBLEMS_ATTRIBUTE,
    RATE_LIMITED,
    UNAUTHENTICATED,
    UNSTORABLE_VALUE,
    VALIDATION_ERROR,
    ProblemType,
    describe_problem_types,
)

_REF = "#/components/schemas/"
PROBLEM_TYPES_KEY = "x-problem-types"

INFO_DESCRIPTION = """\
The REST API of Kraliki Voice, a multi-tenant, plugin-based contact-center platform: the
kernel's routes (authentication, users, roles, API keys, the key vault, real-time events) and
those of every loaded plugin (one tag each).

- **Authentication**: `POST /api/v1/auth/login` answers an access token; send it, or an API
  key, as `Authorization: Bearer <credential>` (the `accessToken` and `apiKey` schemes).
- **Errors** are RFC 9457 problems (`application/problem+json`, schema `Problem`): branch on
  `type`, a stable URI that `GET /problems/<slug>` describes. Each operation lists the types
  it may answer under each status.
- **Lists** are cursor-paginated: pass `next_cursor` back as `cursor`.
- **Retries** of side-effecting POSTs are safe with an `Idempotency-Key` header.

Conventions: `docs/api-conventions.md`. Interactive documents: `/docs` (Swagger UI) and
`/redoc` (ReDoc), served by the platform itself.
"""

KERNEL_TAGS: dict[str, str] = {
    "health": "Liveness and readiness probes (public).",
    "problems": "Descriptions of the problem `type` URIs that errors carry (public).",
    "observability": "Prometheus metrics of this process.",
    "auth": "Log in, refresh and end sessions; the caller's own profile; invitations.",
    "users": "The organization's users: invite, update, deactivate, assign roles.",
    "roles": "Built-in and custom roles and the permissions they hold.",
    "api-keys": "API keys for machine clients (sent as `Authorization: Bearer <key>`).",
    "audit": "The organization's and the operators' audit logs.",
    "resilience": "Circuit breakers of the outbound dependencies: inspect, reset, force.",
    "vault": "Secrets of the organization (provider credentials), encrypted at rest.",
    "realtime": "The real-time event stream (Server-Sent Events; WebSocket at the same path "
    "prefix).",
}

SECURITY_SCHEMES: dict[str, Any] = {
    "accessToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token from `POST /api/v1/auth/login` (or `/auth/refresh`).",
    },
    "apiKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key from `POST /api/v1/api-keys`, sent the same way.",
    },
}
_SECURITY: list[dict[str, list[str]]] = [{name: []} for name in SECURITY_SCHEMES]

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; branch on `type` (`GET /problems/<slug>`). "
    "Problem types may add members of their own (extensions).",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "description": "A stable URI: `/problems/<slug>`."},
        "title": {"type": "string", "description": "The type's short, fixed summary."},
        "status": {"type": "integer", "description": "The HTTP status code."},
        "detail": {"type": "string", "description": "What went wrong this time."},
        "instance": {
            "type": "string",
            "description": "The request path, or for a 500 `urn:kraliki:incident:<id>`.",
        },
    },
    "additionalProperties": True,
}

VALIDATION_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "ValidationProblem",
    "description": "A problem answered with 422; for `/problems/validation-error`, `errors` "
    "lists each failing field.",
    "allOf": [
        {"$ref": _REF + "Problem"},
        {
            "type": "object",
            "properties": {
                "errors": {
                    "type": "array",
                    "items": {"$ref": _REF + "FieldError"},
                }
            },
        },
    ],
}

FIELD_ERROR_SCHEMA: dict[str, Any] = {
    "title": "FieldError",
    "description": "One failing field of a `/problems/validation-error`.",
    "type": "object",
    "required": ["loc", "message"],
    "properties": {
        "loc": {
            "type": "array",
            "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "description": "Where: `body`, `query`, `path` or `header`, then the field names.",
        },
        "message": {"type": "string"},
        "type": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
}

ACCESS_PROBLEMS = (UNAUTHENTICATED, FORBIDDEN, TENANT_SUSPENDED, RATE_LIMITED)
_FASTAPI_SCHEMAS = ("HTTPValidationError", "ValidationError")
_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@dataclass(frozen=True, slots=True)
class OperationFacts:
    """What the kernel knows of a route that FastAPI's document does not say."""

    permission: str | None
    public_reason: str | None
    problems: tuple[ProblemType, ...]


def install_openapi(app: FastAPI, tags: dict[str, str], disableable: Iterable[str]) -> None:
    """Make ``app.openapi()`` the document described above (rewritten once, then cached).

    ``tags`` describes each plugin's tag; routes of the ``disableable`` plugins also answer
    404 when the caller's organization disabled the plugin.
    """
    generate: Callable[[], dict[str, Any]] = app.openapi
    optional = set(disableable)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            rewrite_document(document, _operation_facts(app, optional), {**KERNEL_TAGS, **tags})
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


def rewrite_document(
    document: dict[str, Any],
    facts: dict[tuple[str, str], OperationFacts],
    tags: dict[str, str],
) -> None:
    """Rewrite ``document`` in place (see the module docstring)."""
    used_tags: list[str] = []
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method not in _METHODS or not isinstance(operation, dict):
                continue
            fact = facts.get((path, method), OperationFacts(None, None, ()))
            _document_errors(operation, fact)
            _document_access(operation, fact)
            used_tags.extend(t for t in operation.get("tags", ()) if t not in used_tags)
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in _FASTAPI_SCHEMAS:
        schemas.pop(name, None)
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas["ValidationProblem"] = VALIDATION_PROBLEM_SCHEMA
    schemas["FieldError"] = FIELD_ERROR_SCHEMA
    components["securitySchemes"] = SECURITY_SCHEMES
    document["info"]["description"] = INFO_DESCRIPTION
    document["tags"] = [
        {"name": tag, "description": tags.get(tag) or f"Routes of the {tag} plugin."}
        for tag in sorted(used_tags)
    ]


def _document_errors(operation: dict[str, Any], fact: OperationFacts) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    problems = list(fact.problems)
    if "422" in responses:
        problems.append(VALIDATION_ERROR)
        if "requestBody" in operation:
            problems.append(UNSTORABLE_VALUE)
    for problem in problems:
        response = responses.setdefault(str(problem.status), {})
        uris: list[str] = response.setdefault(PROBLEM_TYPES_KEY, [])
        if problem.uri not in uris:
            uris.append(problem.uri)
    for status, response in responses.items():
        if status[0] not in "45" and status != "default":
            continue
        uris = response.get(PROBLEM_TYPES_KEY, [])
        if uris:
            response["description"] = describe_problem_types(uris)
        response["content"] = _problem_content(status)
    responses.setdefault(
        "default",
        {
            "description": "Any other error: a problem whose `type` says which.",
            "content": _problem_content("default"),
        },
    )
    operation["responses"] = dict(sorted(responses.items()))


def _document_access(operation: dict[str, Any], fact: OperationFacts) -> None:
    if fact.permission is not None:
        operation["security"] = _SECURITY
        access = f"Requires the permission `{fact.permission}`."
    elif fact.public_reason is not None:
        access = f"Public (no credential): {fact.public_reason}."
    else:
        access = ""
    summary = operation.get("summary", "")
    description = operation.get("description") or (f"{summary}." if summary else "")
    operation["description"] = "\n\n".join(part for part in (description, access) if part)


def _problem_content(status: str) -> dict[str, Any]:
    name = "ValidationProblem" if status == "422" else "Problem"
    return {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": _REF + name}}}


def _operation_facts(app: FastAPI, disableable: set[str]) -> dict[tuple[str, str], OperationFacts]:
    """(path, lower-case method) -> what the route declared, for every API route."""
    facts: dict[tuple[str, str], OperationFacts] = {}
    for route in api_routes(app):
        permission, reason = route_access(route)
        problems: list[ProblemType] = []
        if permission is not None:
            problems.extend(ACCESS_PROBLEMS)
            if getattr(route.original_route, PLUGIN_ATTRIBUTE, None) in disableable:
                problems.append(NOT_FOUND)
        for call in dependency_calls(route):
            problems.extend(getattr(call, PROBLEMS_ATTRIBUTE, ()))
        fact = OperationFacts(permission, reason, tuple(dict.fromkeys(problems)))
        for method in route.methods or ():
            facts[(route.path or "", method.lower())] = fact
    return facts
