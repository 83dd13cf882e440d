"""Provider-neutral instructions as loopback's answer to a webhook: the instruction list as
JSON, which the carrier (:mod:`plugins.loopback.carrier.program`) runs as it is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from plugins.calls import InstructionList

CONTENT_TYPE = "application/json"


def document(instructions: Sequence[Any]) -> bytes:
    """The JSON body."""
    return InstructionList(steps=list(instructions)).model_dump_json().encode()
