"""What the Twilio double (``plugins.twilio.testing``) keeps: accounts, calls, recordings,
the requests it received and the callbacks it sent, and how Twilio writes them as JSON."""

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
    requests: list[RestRequest] = field(default_factory=list)
    callbacks: list[SentCallback] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
