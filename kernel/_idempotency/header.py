"""The ``Idempotency-Key`` request header: how routes receive it, and what a valid key is."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Header

from kernel._idempotency.models import MAX_KEY_LENGTH
from kernel._idempotency.problems import KEY_INVALID, KEY_REUSED, REQUEST_IN_PROGRESS
from kernel._problems import ProblemError, raises

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"

# Printable ASCII (space to tilde); HTTP strips a value's outer spaces, so a key is never
# all spaces.
_VALID_KEY = re.compile(rf"[\x21-\x7e][\x20-\x7e]{{0,{MAX_KEY_LENGTH - 1}}}")


def check_key(key: str) -> str:
    """``key`` if it is 1-255 printable ASCII characters; otherwise the 400 problem."""
    if not _VALID_KEY.fullmatch(key):
        raise ProblemError(
            KEY_INVALID,
            f"the {HEADER} header must be 1 to {MAX_KEY_LENGTH} printable ASCII characters",
        )
    return key


@raises(KEY_INVALID, KEY_REUSED, REQUEST_IN_PROGRESS)
async def idempotency_key_header(
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            description="A unique value (a UUID, say) the client chooses for this request and "
            "sends again, unchanged, when it retries it: a retry with the same body gets the "
            "first answer (with `Idempotent-Replayed: true`) instead of acting twice. 1 to "
            f"{MAX_KEY_LENGTH} printable ASCII characters; remembered for a day unless the "
            "platform says otherwise.",
            examples=["5f2b7c1e-8d4a-4e8f-9a51-0c3d2b6e7f10"],
        ),
    ] = None,
) -> str | None:
    # A dependency rather than a bare Header(): a bare Annotated header without a default is
    # required, and the key is optional. The key is checked by claim(), after authentication.
    return idempotency_key


IdempotencyKeyHeader = Annotated[str | None, Depends(idempotency_key_header)]
"""The request's ``Idempotency-Key`` (None without one), documented in OpenAPI; pass it to
``platform.idempotency.claim``."""
