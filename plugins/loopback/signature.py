"""How loopback signs its webhooks and how the platform checks them, as a real carrier would.

Each delivery carries ``Loopback-Event-Id`` (unique per event, kept across retries: the
de-duplication key), ``Loopback-Timestamp`` (unix seconds of this attempt) and
``Loopback-Signature: v1=<hex HMAC-SHA256 of "{event id}.{timestamp}.{raw body}">`` keyed
with the tenant's loopback signing secret. Several ``v1=`` values may be sent, separated by
spaces (a secret rotation); one matching is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Mapping

EVENT_ID_HEADER = "loopback-event-id"
TIMESTAMP_HEADER = "loopback-timestamp"
SIGNATURE_HEADER = "loopback-signature"
SCHEME = "v1="


class SignatureError(Exception):
    """Why a delivery is not authentic or not fresh (safe to log: never quotes a secret)."""


def new_event_id() -> str:
    return "EV" + uuid.uuid4().hex


def signature(secret: str, event_id: str, timestamp: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"{event id}.{timestamp}.{raw body}"``."""
    signed = f"{event_id}.{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(
    secret: str, body: bytes, *, event_id: str, timestamp: int | None = None
) -> dict[str, str]:
    """The headers of one delivery attempt (a fresh timestamp unless one is given)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Loopback-Event-Id": event_id,
        "Loopback-Timestamp": stamp,
        "Loopback-Signature": SCHEME + signature(secret, event_id, stamp, body),
        "Content-Type": "application/json",
    }


def check_headers(
    headers: Mapping[str, str], *, tolerance_seconds: int, now: float | None = None
) -> tuple[str, str, str]:
    """(event id, timestamp, signature header) of a delivery that has all three and is
    fresh; raises :class:`SignatureError`. ``headers`` have lower-case names."""
    event_id = headers.get(EVENT_ID_HEADER, "")
    stamp = headers.get(TIMESTAMP_HEADER, "")
    offered = headers.get(SIGNATURE_HEADER, "")
    if not event_id or not stamp or not offered:
        raise SignatureError("missing Loopback-Event-Id, -Timestamp or -Signature")
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        raise SignatureError("Loopback-Timestamp is not unix seconds")
    skew = (time.time() if now is None else now) - int(stamp)
    if abs(skew) > tolerance_seconds:
        raise SignatureError(f"timestamp is {abs(int(skew))} s off (tolerance {tolerance_seconds})")
    return event_id, stamp, offered


def verify_signature(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_seconds: int,
    now: float | None = None,
) -> str:
    """The event id of an authentic, fresh delivery; raises :class:`SignatureError`.
    ``headers`` have lower-case names."""
    event_id, stamp, offered = check_headers(headers, tolerance_seconds=tolerance_seconds, now=now)
    expected = signature(secret, event_id, stamp, body)
    candidates = [part.removeprefix(SCHEME) for part in offered.split() if part.startswith(SCHEME)]
    # Check every candidate so the time taken does not depend on which one matches.
    wanted = expected.encode()
    matched = [hmac.compare_digest(wanted, c.encode("utf-8", "replace")) for c in candidates]
    if not any(matched):
        raise SignatureError("signature does not match")
    return event_id
