"""Who spoke: a transcript's speaker as a role in the conversation.

Providers name speakers by leg: the loopback carrier says ``caller``/``callee``, others may
say ``customer``/``agent``. On an inbound call the caller is the customer; on an outbound one
(a campaign, a callback) the callee is.
"""

from __future__ import annotations

from typing import Literal

Role = Literal["customer", "agent", "other"]


def role_of(speaker: str, direction: str | None) -> Role:
    name = speaker.strip().lower()
    if name in ("customer", "agent"):
        return "customer" if name == "customer" else "agent"
    inbound = (direction or "").lower().startswith("inbound")
    if name == "caller":
        return "customer" if inbound else "agent"
    if name == "callee":
        return "agent" if inbound else "customer"
    return "other"
