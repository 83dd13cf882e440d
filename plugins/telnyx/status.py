"""How Telnyx's words for the end of a call and for answering machines read in the
provider-neutral statuses."""

from __future__ import annotations

from plugins.calls import AnsweredBy, CallStatus

HANGUP_CAUSES = {
    "normal_clearing": CallStatus.COMPLETED,
    "time_limit": CallStatus.COMPLETED,
    "user_busy": CallStatus.BUSY,
    "timeout": CallStatus.NO_ANSWER,
    "no_answer": CallStatus.NO_ANSWER,
    "originator_cancel": CallStatus.CANCELED,
    "call_rejected": CallStatus.FAILED,
    "not_found": CallStatus.FAILED,
    "unallocated_number": CallStatus.FAILED,
    "invalid_number_format": CallStatus.FAILED,
    "destination_out_of_order": CallStatus.FAILED,
    "network_out_of_order": CallStatus.FAILED,
    "normal_temporary_failure": CallStatus.FAILED,
}
"""``hangup_cause`` values; an unlisted one is judged by the SIP code, then as failed."""

SIP_CODES = {
    "200": CallStatus.COMPLETED,
    "486": CallStatus.BUSY,
    "600": CallStatus.BUSY,
    "408": CallStatus.NO_ANSWER,
    "480": CallStatus.NO_ANSWER,
    "487": CallStatus.CANCELED,
}

MACHINE_RESULTS = {
    "human": AnsweredBy.HUMAN,
    "human_residence": AnsweredBy.HUMAN,
    "human_business": AnsweredBy.HUMAN,
    "machine": AnsweredBy.MACHINE,
    "fax_detected": AnsweredBy.MACHINE,
}
"""Standard and premium detection results; anything else (``not_sure``, ``silence``) is
unknown."""


def hangup_status(cause: str | None, sip_cause: str | None) -> CallStatus:
    """The terminal status of a ``call.hangup``. ``unspecified`` with no SIP answer (Telnyx
    reports inbound calls so) is a call that ended normally."""
    if cause in HANGUP_CAUSES:
        return HANGUP_CAUSES[cause]
    if sip_cause in SIP_CODES:
        return SIP_CODES[sip_cause]
    if sip_cause and sip_cause.isdigit():
        return CallStatus.FAILED
    return CallStatus.COMPLETED if cause in (None, "unspecified") else CallStatus.FAILED


def answered_by(result: str | None) -> AnsweredBy:
    return MACHINE_RESULTS.get(result or "", AnsweredBy.UNKNOWN)
