"""``is_callable``: may the organization call this number, for this purpose, on this channel,
now? The one check a dialer runs before every attempt; its answer says why, and is what a
campaign stores with the attempt (:meth:`CallableDecision.as_record`).

Rules, in order (the first that refuses decides):

1. ``invalid-number``: the number is not a valid phone number.
2. ``unknown-purpose``: the purpose is not one of the organization's.
3. ``dnc-number``: the number (or, once its contact was erased, its hash) is on the
   organization's do-not-call list.
4. ``dnc-prefix``: a listed prefix starts the number (the longest one is named).
5. ``opted-out`` / ``consent-revoked``: the newest consent line for this purpose and channel
   (about the contact or the number) is a revocation: the contact's own opt-out (purpose and
   channel ``all``) or a revocation of this purpose.
6. ``no-consent``: the organization's rules need consent for this purpose on this channel and
   the newest line is not a grant.
7. ``allowed``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, utcnow
from plugins.contacts.compliance import consent, dnc, hashing
from plugins.contacts.compliance.settings import ALL, read_settings
from plugins.contacts.phones import InvalidNumber, normalize

RULES = (
    "invalid-number",
    "unknown-purpose",
    "dnc-number",
    "dnc-prefix",
    "opted-out",
    "consent-revoked",
    "no-consent",
    "allowed",
)
"""Every ``rule`` a decision can carry (stable slugs)."""


@dataclass(frozen=True, slots=True)
class CallableDecision:
    """Whether a call may be made, and the rule (and the record) that decided it."""

    allowed: bool
    rule: str
    """One of :data:`RULES`."""
    reason: str
    """A sentence for people (never the number)."""
    purpose: str
    channel: str
    checked_at: datetime
    dnc_entry_id: uuid.UUID | None = None
    """The do-not-call entry that refused the call."""
    consent_record_id: uuid.UUID | None = None
    """The ledger line that decided (a grant that allowed it, a revocation that refused it)."""
    contact_id: uuid.UUID | None = None

    def as_record(self) -> dict[str, Any]:
        """The decision as JSON-able values, to store with a call attempt as its proof."""
        return {
            "allowed": self.allowed,
            "rule": self.rule,
            "reason": self.reason,
            "purpose": self.purpose,
            "channel": self.channel,
            "checked_at": self.checked_at.isoformat(),
            "dnc_entry_id": None if self.dnc_entry_id is None else str(self.dnc_entry_id),
            "consent_record_id": (
                None if self.consent_record_id is None else str(self.consent_record_id)
            ),
            "contact_id": None if self.contact_id is None else str(self.contact_id),
        }


async def is_callable(
    session: AsyncSession,
    *,
    number: str,
    purpose: str,
    channel: str = "voice_call",
    contact_id: uuid.UUID | None = None,
    at: datetime | None = None,
    platform: Platform | None = None,
) -> CallableDecision:
    """Decide whether ``number`` may be called for ``purpose`` on ``channel`` (see the
    module's rules), as of ``at`` (now by default), in the tenant's scope.

    ``contact_id`` adds the contact's own consent lines and opt-out to the number's;
    ``platform`` is found from the session when not given. A few
    indexed queries in ``session`` (call it before your own writes on SQLite: the first
    check of a worker may read the tenant's hash key in a transaction of its own).
    """
    checked_at = at or utcnow()

    def decide(allowed: bool, rule: str, reason: str, **ids: Any) -> CallableDecision:
        return CallableDecision(
            allowed=allowed,
            rule=rule,
            reason=reason,
            purpose=purpose,
            channel=channel,
            checked_at=checked_at,
            contact_id=contact_id,
            **ids,
        )

    country, settings = await read_settings(session)
    try:
        e164 = normalize(number, default_country=country).e164
    except InvalidNumber:
        return decide(False, "invalid-number", "The number is not a valid phone number.")
    rules = settings.purpose(purpose)
    if rules is None:
        return decide(
            False, "unknown-purpose", f"{purpose!r} is not one of the organization's purposes."
        )
    number_hash = await hashing.hash_number(platform or hashing.platform_of(session), session, e164)
    listed = await dnc.match(session, e164, number_hash, at=checked_at)
    if listed is not None:
        reason = (
            "The number is on the organization's do-not-call list."
            if listed.rule == "dnc-number"
            else "The number starts with a prefix on the organization's do-not-call list."
        )
        return decide(False, listed.rule, reason, dnc_entry_id=listed.entry_id)
    line = await consent.deciding_line(
        session,
        contact_id=contact_id,
        numbers=[e164] if number_hash is None else [e164, number_hash],
        purpose=purpose,
        channel=channel,
        at=checked_at,
    )
    if line is not None and line.action == consent.Action.REVOKED:
        if line.purpose == ALL and line.channel == ALL:
            return decide(
                False,
                "opted-out",
                "The person asked not to be called (an opt-out in the consent ledger).",
                consent_record_id=line.id,
            )
        return decide(
            False,
            "consent-revoked",
            f"Consent for {purpose} on {channel} was revoked.",
            consent_record_id=line.id,
        )
    if line is not None:
        return decide(
            True,
            "allowed",
            f"Consent for {purpose} on {channel} is on record.",
            consent_record_id=line.id,
        )
    if rules.needs_consent(channel):
        return decide(
            False,
            "no-consent",
            f"Calling for {purpose} on {channel} needs consent; none is on record.",
        )
    return decide(True, "allowed", f"Calling for {purpose} on {channel} needs no consent.")
