"""How vault failures that escape a route answer: one handler for every route, plugins' too."""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.responses import JSONResponse

from kernel._problems import define_problem, problem_response

logger = logging.getLogger("kraliki.vault")

VAULT_UNAVAILABLE = define_problem(
    "vault-unavailable",
    "Vault unavailable",
    503,
    "A stored secret could not be decrypted or a data key could not be wrapped: the key "
    "provider is unreachable or lacks the master key that wrapped it, or a stored value was "
    "altered. Operators: see the server log.",
)


async def handle_vault_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """``KeyProviderError`` and ``SecretUnavailableError`` as problem+json (their messages
    name keys and key ids, never values; they go to the log, not to the caller)."""
    logger.error("vault unavailable on %s %s: %s", request.method, request.url.path, exc)
    return problem_response(VAULT_UNAVAILABLE, instance=request.url.path)
