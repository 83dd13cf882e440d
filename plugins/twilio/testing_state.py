"""What the Twilio double (``plugins.twilio.testing``) keeps: accounts, calls, recordings,
payment sessions, the requests it received and the callbacks it sent, and how Twilio writes
them as JSON."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plugins.twilio.testing_conferences import Conference

API_VERSION = "2010-04-01"
TWILIO_API = "https://api.twilio.com"


def new_sid(prefix: str) -> str:
    """A Twilio-shaped sid: two letters and 32 hex digits."""
    return prefix + secrets.token_hex(16)


def rfc2822(moment: datetime | None = None) -> str:
    """Twilio's REST and status-callback timestamps: ``Tue, 22 Nov 2026 10:00:00 +0000``."""
    return format_datetime(moment or datetime.now(UTC))


def iso8601(moment: datetime | None = None) -> str:
    """Twilio's payment-callback timestamps: ``2026-11-22T10:00:00.123Z``."""
    stamp = (moment or datetime.now(UTC)).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


@dataclass
class Account:
    sid: str
    auth_token: str
    status: str = "active"
    friendly_name: str = "Kraliki test account"

    def as_json(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "owner_account_sid": self.sid,
            "friendly_name": self.friendly_name,
            "status": self.status,
            "type": "Full",
            "date_created": rfc2822(),
            "date_updated": rfc2822(),
            "uri": f"/{API_VERSION}/Accounts/{self.sid}.json",
        }


@dataclass
class RestRequest:
    """One request to the double's REST API, as received (for assertions)."""

    method: str
    path: str
    fields: list[tuple[str, str]]
    """The form fields in order; a repeated field (``StatusCallbackEvent``) appears often."""
    headers: dict[str, str]
    """Lower-case names."""
    auth: tuple[str, str] | None
    """The HTTP basic credentials (account sid, auth token)."""
    query: dict[str, str] = field(default_factory=dict)
    """The query string's parameters (a list's filters: ``FriendlyName``, ``Status``)."""

    @property
    def form(self) -> dict[str, str]:
        """The fields, the last value of a repeated one winning."""
        return dict(self.fields)

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.fields if key == name]


@dataclass
class SentCallback:
    """One webhook the double sent as the carrier, and how the platform answered."""

    url: str
    form: dict[str, str]
    headers: dict[str, str]
    status_code: int
    body: bytes


@dataclass
class Recording:
    sid: str
    account_sid: str
    call_sid: str
    status: str = "in-progress"
    status_callback: str | None = None
    channels: int = 2
    source: str = "StartCallRecordingAPI"
    duration: int | None = None
    media: bytes = b""
    deleted: bool = False

    @property
    def url(self) -> str:
        """The RecordingUrl Twilio hands out (its own host, whatever serves the double)."""
        return f"{TWILIO_API}/{API_VERSION}/Accounts/{self.account_sid}/Recordings/{self.sid}"

    def as_json(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "account_sid": self.account_sid,
            "call_sid": self.call_sid,
            "api_version": API_VERSION,
            "conference_sid": None,
            "channels": self.channels,
            "date_created": rfc2822(),
            "date_updated": rfc2822(),
            "start_time": rfc2822(),
            "duration": str(self.duration if self.duration is not None else -1),
            "price": None,
            "price_unit": "USD",
            "status": self.status,
            "source": self.source,
            "track": "both",
            "error_code": None,
            "encryption_details": None,
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Recordings/{self.sid}.json",
        }


@dataclass
class Call:
    sid: str
    account_sid: str
    to: str
    from_: str
    direction: str = "outbound-api"
    status: str = "queued"
    url: str | None = None
    method: str = "POST"
    status_callback: str | None = None
    status_callback_events: list[str] = field(default_factory=list)
    recording_status_callback: str | None = None
    record: bool = False
    machine_detection: str | None = None
    async_amd: bool = False
    """``AsyncAmd=true``: the verdict goes to ``async_amd_status_callback``, not the answer."""
    async_amd_status_callback: str | None = None
    timeout: int | None = None
    twiml: list[str] = field(default_factory=list)
    """Every TwiML document the call got: webhook answers and REST updates, in order."""
    updates: list[dict[str, str]] = field(default_factory=list)
    """The REST updates received (Status, Twiml, Url...)."""
    recordings: list[str] = field(default_factory=list)
    dialled: list[tuple[str, str]] = field(default_factory=list)
    """The ``<Dial action>`` legs the double played: (number, ``DialCallStatus``), in order."""
    sequence: int = -1
    """The last SequenceNumber sent on a status callback."""
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    ended_at: datetime | None = None
    duration: int | None = None
    """Seconds; Twilio reports it for a completed call only."""
    answered_by: str | None = None

    def finish(self, status: str, duration: int | None = None) -> None:
        """The call ends at Twilio with ``status`` (a final one)."""
        self.status = status
        self.ended_at = datetime.now(UTC)
        self.duration = (duration or 0) if status == "completed" else None

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence

    def base_form(self) -> dict[str, str]:
        """The fields every call webhook carries."""
        return {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": self.sid,
            "Called": self.to,
            "Caller": self.from_,
            "Direction": self.direction,
            "From": self.from_,
            "To": self.to,
        }

    def as_json(self) -> dict[str, Any]:
        path = f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{self.sid}"
        return {
            "sid": self.sid,
            "account_sid": self.account_sid,
            "parent_call_sid": None,
            "to": self.to,
            "to_formatted": self.to,
            "from": self.from_,
            "from_formatted": self.from_,
            "status": self.status,
            "direction": self.direction,
            "answered_by": self.answered_by,
            "api_version": API_VERSION,
            "date_created": rfc2822(self.started_at),
            "date_updated": rfc2822(),
            "start_time": rfc2822(self.started_at),
            "end_time": rfc2822(self.ended_at) if self.ended_at else None,
            "duration": str(self.duration) if self.duration is not None else None,
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "uri": f"{path}.json",
            "subresource_uris": {
                "recordings": f"{path}/Recordings.json",
                "notifications": f"{path}/Notifications.json",
                "events": f"{path}/Events.json",
            },
        }


CARD_FIELDS = ("payment-card-number", "expiration-date", "security-code", "postal-code")
"""What a card capture asks the caller for, in the order Twilio lists it in ``Required``."""
BANK_FIELDS = ("bank-routing-number", "bank-account-number")
"""What an ``ach-debit`` capture asks for, in that order."""
CAPTURE_PARAMETERS = {
    "payment-card-number": "PaymentCardNumber",
    "expiration-date": "ExpirationDate",
    "security-code": "SecurityCode",
    "postal-code": "PaymentCardPostalCode",
    "bank-routing-number": "BankRoutingNumber",
    "bank-account-number": "BankAccountNumber",
}
"""Each field Twilio captures -> the callback parameter that reports it (masked)."""
CAPTURE_ERRORS = {
    "payment-card-number": "invalid-card-number",
    "expiration-date": "invalid-date",
    "security-code": "invalid-security-code",
    "postal-code": "invalid-postal-code",
    "bank-routing-number": "invalid-bank-routing-number",
    "bank-account-number": "invalid-bank-account-number",
}
"""The ``ErrorType`` of a field the caller keyed wrong."""
CARD_TYPES = {"4": "visa", "5": "mastercard"}
"""A card number's first digit -> the ``PaymentCardType`` Twilio reports."""
VISIBLE_CARD_DIGITS = 4
MASKED_UNTIL = 12
"""A card number shows its last four digits only once this many are keyed (before that,
the last four would be most of what was keyed)."""


def mask(field: str, digits: str, *, whole: bool = True) -> str:
    """``digits`` keyed into ``field`` as Twilio reports them: an ``x`` for each digit, but a
    card number's last four and a postal code (not a secret) as keyed. ``whole=False``: a
    card number still being keyed shows none, since the tail of a prefix is not the card's
    last four, and the partial results together would give away eight digits or more."""
    if field == "postal-code":
        return digits
    shown = 0
    if field == "payment-card-number" and whole and len(digits) >= MASKED_UNTIL:
        shown = VISIBLE_CARD_DIGITS
    return "x" * (len(digits) - shown) + digits[len(digits) - shown :]


def reported(field: str, digits: str, *, whole: bool = True) -> dict[str, str]:
    """The callback parameters reporting ``field``: its masked value (see :func:`mask`),
    and a card number's ``PaymentCardType``."""
    form = {CAPTURE_PARAMETERS[field]: mask(field, digits, whole=whole)}
    if field == "payment-card-number":
        form["PaymentCardType"] = card_type(digits)
    return form


def card_type(digits: str) -> str:
    return CARD_TYPES.get(digits[:1], "unknown")


def asked_fields(payment_method: str, *, postal_code: bool, security_code: bool) -> list[str]:
    """What a capture must get from the caller, in Twilio's order: a bank account's two
    numbers, or a card's fields but those the request turned off."""
    if payment_method == "ach-debit":
        return list(BANK_FIELDS)
    off = {"postal-code": not postal_code, "security-code": not security_code}
    return [name for name in CARD_FIELDS if not off.get(name)]


@dataclass
class PaymentSession:
    """An agent-assisted payment (``Calls/{CallSid}/Payments``): the agent asks for one field
    at a time (``capturing``), the caller keys it, and Twilio reports the progress to the
    latest ``status_callback``, masked. Twilio is the carrier: it alone holds the digits, in
    memory (``keyed``), until the connector has them or the session is cancelled."""

    sid: str
    account_sid: str
    call_sid: str
    idempotency_key: str
    status_callback: str
    """Each update names it again; Twilio calls the latest."""
    charge_amount: str | None
    currency: str | None
    connector: str | None
    payment_method: str
    description: str | None
    asked: list[str] = field(default_factory=lambda: list(CARD_FIELDS))
    """The fields the session must capture (``asked_fields``)."""
    status: str = "active"
    """``active``, ``complete-requested`` (``Status=complete``, the connector's result still
    to come), ``completed``, ``cancelled``."""
    capturing: str | None = None
    """The field asked for last (``Capture``)."""
    keyed: dict[str, str] = field(default_factory=dict)
    """Field -> the digits the caller keyed into it (valid ones only); never sent unmasked."""
    updates: list[dict[str, str]] = field(default_factory=list)
    """The REST updates applied, in order (a repeated ``IdempotencyKey`` is not)."""
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def active(self) -> bool:
        """Whether the session still holds the call (no other one may start)."""
        return self.status in ("active", "complete-requested")

    def required(self) -> list[str]:
        """``Required``: the fields asked for that the caller has not keyed validly yet."""
        return [name for name in self.asked if name not in self.keyed]

    def described(self) -> dict[str, str]:
        """What every callback of the session says about the payment."""
        return {
            "PaymentMethod": self.payment_method,
            "ChargeAmount": self.charge_amount or "",
            "Currency": self.currency or "",
        }

    def as_json(self) -> dict[str, Any]:
        path = f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{self.call_sid}"
        return {
            "account_sid": self.account_sid,
            "call_sid": self.call_sid,
            "sid": self.sid,
            "date_created": rfc2822(self.created_at),
            "date_updated": rfc2822(self.updated_at),
            "uri": f"{path}/Payments/{self.sid}.json",
        }


def error(code: int, message: str, status: int) -> dict[str, Any]:
    """Twilio's JSON error body."""
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


@dataclass
class Fault:
    """What the next REST request gets instead of an answer."""

    status: int = 503
    code: int | None = None
    retry_after: str | None = None
    hang: bool = False
    """Answer nothing until the double stops (the client's timeout has to fire)."""


def sample_media(size: int = 48 * 1024) -> bytes:
    """Deterministic bytes standing for a recording (several chunks when streamed)."""
    return bytes(i % 251 for i in range(size))


@dataclass
class State:
    """Everything the double knows; shared by its REST API and its carrier side."""

    accounts: dict[str, Account] = field(default_factory=dict)
    calls: dict[str, Call] = field(default_factory=dict)
    recordings: dict[str, Recording] = field(default_factory=dict)
    conferences: dict[str, Conference] = field(default_factory=dict)
    """By sid (``plugins.twilio.testing_conferences``)."""
    payments: dict[str, PaymentSession] = field(default_factory=dict)
    """Agent-assisted payment sessions, by sid."""
    requests: list[RestRequest] = field(default_factory=list)
    callbacks: list[SentCallback] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
