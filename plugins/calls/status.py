"""The provider-neutral status machine: a call only ever moves forward.

Providers report the same status twice, late, or out of order (Telnyx says so; Twilio's
callbacks race each other). A report that would not move the call forward changes nothing and
is recorded in the timeline as ignored, with the reason.
"""

from __future__ import annotations

import enum

from plugins.calls.provider import CallStatus


class Verdict(enum.StrEnum):
    ADVANCE = "advance"
    DUPLICATE = "duplicate"
    """The call is already in this status."""
    OUT_OF_ORDER = "out-of-order"
    """The call is already further along (a late report)."""
    AFTER_END = "after-end"
    """The call already ended with another final status."""


def judge(current: CallStatus, reported: CallStatus) -> Verdict:
    """Whether ``reported`` moves a call that is in ``current`` forward."""
    if reported == current:
        return Verdict.DUPLICATE
    if current.terminal:
        return Verdict.AFTER_END
    if reported.rank <= current.rank:
        return Verdict.OUT_OF_ORDER
    return Verdict.ADVANCE


ACTIVE_STATUSES = tuple(status.value for status in CallStatus if not status.terminal)
"""Statuses of calls that count against the tenant's concurrent-call limit."""
