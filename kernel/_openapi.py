"""The OpenAPI document says what the app really answers on errors: problem+json.

FastAPI documents a 422 as ``application/json`` ``HTTPValidationError`` and nothing else,
while every error of this app is an RFC 9457 problem (``kernel._problems``) with its own
statuses. Rather than have each route list its errors, the kernel rewrites the generated
document once, for every route of every plugin:

* each documented error status (the 422 FastAPI adds, those a route lists in
  ``responses=``) is ``application/problem+json``: ``ValidationProblem`` for 422,
  ``Problem`` for the others;
* routes that require a permission document 401 and 403;
* every operation has a ``default`` response, a ``Problem``: plugins raise problem types
  whose status belongs to the type, not to the route, so no route can list all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from kernel._auth import api_routes, route_access
from kernel._problems import PROBLEM_MEDIA_TYPE

_REF = "#/components/schemas/"

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; branch on `type` (`GET /problems/<slug>`).",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "description": "A stable URI: `/problems/<slug>`."},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
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
                    "items": {
                        "type": "object",
                        "required": ["loc", "message"],
                        "properties": {
                            "loc": {
                                "type": "array",
                                "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                            },
                            "message": {"type": "string"},
                            "type": {"type": ["string", "null"]},
                        },
                    },
                }
            },
        },
    ],
}

_ACCESS_ERRORS = {
    "401": "No valid credential (`/problems/unauthenticated`).",
    "403": "The credential lacks the permission (`/problems/forbidden`).",
}
_FASTAPI_SCHEMAS = ("HTTPValidationError", "ValidationError")


def install_problem_responses(app: FastAPI) -> None:
    """Make ``app.openapi()`` document problem+json errors (rewritten once, then cached)."""
    generate: Callable[[], dict[str, Any]] = app.openapi
    protected = _protected_operations(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            document_problems(document, protected)
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


def document_problems(document: dict[str, Any], protected: set[tuple[str, str]]) -> None:
    """Rewrite ``document`` in place (see the module docstring)."""
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses: dict[str, Any] = operation["responses"]
            if (path, method) in protected:
                for status, description in _ACCESS_ERRORS.items():
                    responses.setdefault(status, {"description": description})
            for status, response in responses.items():
                if status[0] in "45" or status == "default":
                    response["content"] = _problem_content(status)
            responses.setdefault(
                "default",
                {
                    "description": "An error: a problem whose `type` says which.",
                    "content": _problem_content("default"),
                },
            )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_SCHEMAS:
        schemas.pop(name, None)
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas["ValidationProblem"] = VALIDATION_PROBLEM_SCHEMA


def _problem_content(status: str) -> dict[str, Any]:
    name = "ValidationProblem" if status == "422" else "Problem"
    return {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": _REF + name}}}


def _protected_operations(app: FastAPI) -> set[tuple[str, str]]:
    """(path, lower-case method) of the routes that require a permission."""
    return {
        (route.path or "", method.lower())
        for route in api_routes(app)
        if route_access(route)[0] is not None
        for method in route.methods or ()
    }
