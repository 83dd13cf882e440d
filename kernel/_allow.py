"""The ``Allow`` header of a 405: every method the path takes, not only one route's.

FastAPI mounts one route per method, and Starlette answers a wrong method with the ``Allow``
of the first route whose path matched, so ``POST /calls`` on a path that takes GET and POST
said ``Allow: GET``. The answer here lists the methods of every route of the path.
"""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette._utils import get_route_path
from starlette.routing import compile_path
from starlette.types import Scope

_CACHE_ATTRIBUTE = "kraliki_allow_patterns"


def allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """The methods (sorted) that the routes of ``app`` take on the path of ``scope``."""
    path = get_route_path(scope)
    methods: set[str] = set()
    for pattern, route_methods in _patterns(app):
        if pattern.fullmatch(path):
            methods |= route_methods
    return sorted(methods)


def _patterns(app: FastAPI) -> list[tuple[re.Pattern[str], set[str]]]:
    cached: list[tuple[re.Pattern[str], set[str]]] | None = getattr(
        app.state, _CACHE_ATTRIBUTE, None
    )
    if cached is None:
        cached = []
        for context in iter_route_contexts(app.routes):
            path, methods = context.path, context.methods
            if path and methods:
                cached.append((compile_path(path)[0], set(methods)))
        setattr(app.state, _CACHE_ATTRIBUTE, cached)
    return cached
