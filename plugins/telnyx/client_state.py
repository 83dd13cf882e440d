"""The ``client_state`` Telnyx hands back in webhooks: which call, and what runs next.

Telnyx Call Control keeps no script of ours: it runs one command at a time and reports when
each ends. The steps still to run must travel somewhere, and ``client_state`` (base64, echoed
in the call's later webhooks) is that place. A command that ends with a webhook carries
``{"call_id", "on": <that event type>, "rest": [...]}``; when exactly that event arrives, the
parser hands ``rest`` back to ``calls`` as ``InstructionsNeeded("continue")``. Naming the
event guards against the state being echoed by unrelated webhooks of the same call.

A state with ``"report"`` asks for that report instead of a continuation: a dial that reports
its outcome leaves ``{"on": "call.hangup", "report": "dialed", ...}`` on the callee's leg, and
that leg's hangup becomes ``InstructionsNeeded("dialed")`` for the caller.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_ZLIB_FIRST_BYTE = 0x78
"""zlib streams start with 0x78 and JSON objects with ``{``: the two forms cannot be confused."""
_MAX_DECODED = 1024 * 1024
REPORTS = frozenset({"dialed"})
"""What a state may ask ``on`` to be reported as; anything else reads as no report."""


class StateTooLarge(ValueError):
    """The steps still to run do not fit in a ``client_state``, even compressed."""


@dataclass(frozen=True, slots=True)
class CallState:
    """What one command left in the call's ``client_state``."""

    call_id: str | None = None
    on: str | None = None
    """The event type that continues the script (``call.speak.ended``...)."""
    rest: tuple[Mapping[str, Any], ...] | None = None
    """The steps to run when ``on`` arrives, as JSON objects."""
    call_control_id: str | None = None
    """The Telnyx call the script runs on: a transfer's callee reports for its caller, and
    older ``call.recording.saved`` payloads name no call."""
    report: str | None = None
    """``dialed``: when ``on`` arrives, report how the dialled leg ended (for the call
    ``call_control_id``) instead of continuing with ``rest``. Absent in older states."""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.call_id is not None:
            data["call_id"] = self.call_id
        if self.on is not None:
            data["on"] = self.on
            data["rest"] = list(self.rest or ())
        if self.call_control_id is not None:
            data["call_control_id"] = self.call_control_id
        if self.report is not None:
            data["report"] = self.report
        return data


def encode(state: CallState, *, max_length: int) -> str:
    """Base64 of the state's JSON, compressed when plain JSON would be longer than
    ``max_length``; raises :class:`StateTooLarge` when even that does not fit."""
    raw = json.dumps(state.to_json(), separators=(",", ":"), ensure_ascii=False).encode()
    plain = base64.b64encode(raw).decode("ascii")
    if len(plain) <= max_length:
        return plain
    packed = base64.b64encode(zlib.compress(raw, 9)).decode("ascii")
    if len(packed) <= max_length:
        return packed
    raise StateTooLarge(
        f"the instructions still to run need {len(packed)} characters of client_state "
        f"compressed; Telnyx takes at most {max_length}"
    )


def decode(value: str | None) -> CallState:
    """The state in a webhook; an empty one for a state that is not ours (set by another
    application on the same account, or none at all)."""
    if not value:
        return CallState()
    try:
        raw = base64.b64decode(value, validate=True)
        if raw[:1] == bytes([_ZLIB_FIRST_BYTE]):
            inflater = zlib.decompressobj()
            raw = inflater.decompress(raw, _MAX_DECODED)
            if inflater.unconsumed_tail:
                return CallState()
        data = json.loads(raw)
    except (binascii.Error, zlib.error, ValueError):
        return CallState()
    if not isinstance(data, dict):
        return CallState()
    return _from_json(data)


def _from_json(data: Mapping[str, Any]) -> CallState:
    rest = data.get("rest")
    steps: tuple[Mapping[str, Any], ...] | None = None
    if isinstance(rest, Sequence) and not isinstance(rest, str):
        steps = tuple(step for step in rest if isinstance(step, Mapping))
    return CallState(
        call_id=_text(data.get("call_id")),
        on=_text(data.get("on")),
        rest=steps,
        call_control_id=_text(data.get("call_control_id")),
        report=report if (report := _text(data.get("report"))) in REPORTS else None,
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
