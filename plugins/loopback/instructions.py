"""Provider-neutral instructions as loopback's answer to a webhook: the instruction list as
JSON, which the carrier (:mod:`plugins.loopback.carrier.program`) runs as it is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from plugins.calls import InstructionList, Pay, UnsupportedAction

CONTENT_TYPE = "application/json"


def document(instructions: Sequence[Any]) -> bytes:
    """The JSON body; :class:`UnsupportedAction` for a payment (loopback takes none)."""
    steps = InstructionList(steps=list(instructions))
    if any(isinstance(step, Pay) for step in steps.steps):
        raise UnsupportedAction("loopback takes no payments (no secure-payments capability)")
    return steps.model_dump_json().encode()
