"""The REST half of :class:`plugins.telnyx.testing.TelnyxDouble`: Telnyx's v2 API as far as
the platform uses it, with Telnyx's wire format, errors and ``command_id`` rule.

What it keeps (calls, recordings, conferences, every request) is plain data that tests read.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

Answer = tuple[int, dict[str, Any], bool]
"""(HTTP status, JSON body, whether the command was a repeat)."""
E164 = re.compile(r"^\+[1-9]\d{5,14}$")
SIP_URI = re.compile(r"^sips?:[^@\s]+@[^@\s]+$")
"""Telnyx dials SIP URIs too (``to`` only: the caller id stays a number)."""

REQUIRED: dict[str, tuple[str, ...]] = {
    "speak": ("payload", "voice"),
    "gather_using_speak": ("payload", "voice"),
    "gather_using_audio": ("audio_url",),
    "send_dtmf": ("digits",),
    "transfer": ("to",),
    "record_start": ("channels", "format"),
}
"""Body fields an action refuses to go without (422)."""
ACTIONS = frozenset(
    {
        *REQUIRED,
        "answer",
        "hangup",
        "reject",
        "playback_start",
        "playback_stop",
        "gather",
        "gather_stop",
        "record_pause",
        "record_resume",
        "record_stop",
        "pay",
        "transcription_start",
        "transcription_stop",
        "client_state_update",
    }
)


CONFERENCE_ACTIONS = frozenset(
    {"join", "leave", "mute", "unmute", "hold", "unhold", "speak", "play", "stop", "update"}
)
"""``POST /v2/conferences/{id}/actions/<action>`` the API knows (others are 404)."""
NEEDS_CALL = frozenset({"join", "leave", "update"})
"""Conference actions that name the call they act on (``call_control_id``)."""
SUPERVISOR_ROLES = ("barge", "monitor", "none", "whisper")
"""``supervisor_role`` values Telnyx takes (join and update)."""


AMD_MODES = ("premium", "detect", "detect_beep", "detect_words", "greeting_end", "disabled")
"""The dial's ``answering_machine_detection`` values Telnyx takes."""
TRANSFER_OUTCOMES = ("answered", "busy", "no_answer", "failed", "canceled")
"""How a transfer's callee leg may end: answered (then hung up), busy, not answered within
the ring timeout, refused by the network, or abandoned by the caller while it rang."""


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class ApiError(Exception):
    """Answered as Telnyx answers errors: ``{"errors": [{"code", "title", "detail"}]}``."""

    def __init__(self, status: int, code: str, title: str, detail: str = "") -> None:
        super().__init__(title)
        self.status = status
        self.body = {"errors": [{"code": code, "title": title, "detail": detail or title}]}


def not_found(detail: str) -> ApiError:
    return ApiError(404, "10005", "Resource not found", detail)


def invalid(detail: str) -> ApiError:
    return ApiError(422, "10015", "Invalid parameter", detail)


@dataclass
class DoubleCall:
    """A call leg as the double knows it."""

    call_control_id: str
    from_: str
    to: str
    direction: str
    """``outgoing`` (dialled through the API, or a transfer's callee) or ``incoming``."""
    connection_id: str
    webhook_url: str | None
    client_state: str | None = None
    call_leg_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    call_session_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    start_time: datetime = field(default_factory=now)
    alive: bool = True
    end_time: datetime | None = None
    answered: bool = False
    transfer_of: str | None = None
    """A transfer's callee leg: the call_control_id of the call transferred (the caller)."""
    parks_caller: bool = False
    """The transfer asked ``park_after_unbridge=self``: the caller stays when this leg ends."""
    outcome: str | None = None
    """A transfer's callee leg: how it ends when the test plays it (``TRANSFER_OUTCOMES``)."""
    machine_detection: str | None = None
    """The dial's ``answering_machine_detection`` (``detect``, ``detect_beep``...)."""

    def end(self) -> None:
        if self.alive:
            self.alive, self.end_time = False, now()

    def status_json(self) -> dict[str, Any]:
        """``GET /v2/calls/{call_control_id}``'s ``data``."""
        data: dict[str, Any] = {
            "call_control_id": self.call_control_id,
            "call_leg_id": self.call_leg_id,
            "call_session_id": self.call_session_id,
            "is_alive": self.alive,
            "record_type": "call",
            "start_time": iso(self.start_time),
            "call_duration": int(((self.end_time or now()) - self.start_time).total_seconds()),
            "client_state": self.client_state,
        }
        if self.end_time is not None:
            data["end_time"] = iso(self.end_time)
        return data


@dataclass
class DoubleRecording:
    id: str
    call_control_id: str
    call_leg_id: str
    content: bytes
    format: str = "mp3"
    channels: str = "single"
    started_at: datetime = field(default_factory=now)
    ended_at: datetime = field(default_factory=now)
    deleted: bool = False

    @property
    def content_type(self) -> str:
        return "audio/mpeg" if self.format == "mp3" else "audio/wav"


@dataclass(frozen=True)
class RecordedRequest:
    """One request the double received, as it was answered."""

    method: str
    path: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: Any
    status: int = 0
    duplicate: bool = False
    """A command repeated with a ``command_id`` seen within the window: answered, ignored."""

    @property
    def action(self) -> str | None:
        match = re.fullmatch(r"/v2/calls/[^/]+/actions/([a-z_]+)", self.path)
        return match.group(1) if match else ("dial" if self.path == "/v2/calls" else None)

    @property
    def call_control_id(self) -> str | None:
        match = re.fullmatch(r"/v2/calls/([^/]+)/actions/[a-z_]+", self.path)
        return match.group(1) if match else None

    @property
    def command_id(self) -> str | None:
        value = self.body.get("command_id") if isinstance(self.body, dict) else None
        return value if isinstance(value, str) else None


@dataclass
class TelnyxApi:
    """State and answers of the emulated API (no I/O: the server in ``testing.py`` feeds it)."""

    api_key: str
    connection_id: str
    media_base_url: str = ""
    command_window: float = 60.0
    client_state_limit: int | None = None
    media_link_seconds: float = 600.0
    clock: Callable[[], float] = time.monotonic
    """Measures the ``command_id`` window (tests may move it by hand)."""
    calls: dict[str, DoubleCall] = field(default_factory=dict)
    transfer_outcomes: dict[str, str] = field(default_factory=dict)
    """Number -> how a transfer to it ends (``TRANSFER_OUTCOMES``); others are answered."""
    recordings: dict[str, DoubleRecording] = field(default_factory=dict)
    conferences: dict[str, dict[str, Any]] = field(default_factory=dict)
    """By id: Telnyx's fields plus ``participants`` (call control ids, in the order they
    joined) and ``supervisors`` (call control id -> ``role``, ``whisper_to``)."""
    _commands: dict[tuple[str, str], tuple[float, dict[str, Any]]] = field(default_factory=dict)
    _media_secret: str = field(default_factory=lambda: secrets.token_hex(16))

    # -- entry point ------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        body: Any,
    ) -> Answer:
        """(status, JSON body, duplicate) for one authenticated API request."""
        if headers.get("authorization") != f"Bearer {self.api_key}":
            raise ApiError(401, "10009", "Authentication failed", "The API key is not valid.")
        parts = path.strip("/").split("/")[1:]  # after "v2"
        if method == "POST" and parts == ["calls"]:
            return self._with_command("dial", body, self._dial)
        if method == "GET" and len(parts) == 2 and parts[0] == "calls":
            return self._call_status(parts[1])
        if len(parts) == 4 and parts[0] == "calls" and parts[2] == "actions":
            if method not in ("POST", "PUT"):
                raise ApiError(405, "10016", "Method not allowed")
            # A repeated command_id is ignored before anything else is looked at.
            return self._with_command(
                parts[1], body, lambda data: self._action(self._live_call(parts[1]), parts[3], data)
            )
        if parts[:1] == ["recordings"] and len(parts) == 2:
            return self._recording(method, parts[1])
        if parts[:1] == ["call_control_applications"]:
            return self._applications(parts[1:])
        if parts[:1] == ["conferences"]:
            return self._conferences(method, parts[1:], query, body)
        raise not_found(f"no route for {method} {path}")

    def _with_command(
        self, scope: str, body: Any, run: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> Answer:
        if not isinstance(body, dict):
            raise invalid("the body must be a JSON object")
        command_id = body.get("command_id")
        key = (scope, command_id) if isinstance(command_id, str) and command_id else None
        if key is not None and key in self._commands:
            seen, answer = self._commands[key]
            if self.clock() - seen < self.command_window:
                return 200, answer, True
        answer = run(body)
        if key is not None:
            self._commands[key] = (self.clock(), answer)
        return 200, answer, False

    # -- calls ------------------------------------------------------------------------------

    def _dial(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("connection_id") != self.connection_id:
            raise invalid("connection_id does not name a Call Control application of yours")
        for name in ("to", "from"):
            value = body.get(name)
            sip = name == "to" and isinstance(value, str) and SIP_URI.match(value)
            if not isinstance(value, str) or not (E164.match(value) or sip):
                raise invalid(f"'{name}' must be a number in +E.164 format or a SIP URI")
        state = self._client_state(body)
        detection = body.get("answering_machine_detection")
        if detection is not None and detection not in AMD_MODES:
            raise invalid(f"answering_machine_detection must be one of {', '.join(AMD_MODES)}")
        call = DoubleCall(
            call_control_id=f"v3:{secrets.token_urlsafe(24)}",
            from_=body["from"],
            to=body["to"],
            direction="outgoing",
            connection_id=self.connection_id,
            webhook_url=body.get("webhook_url"),
            client_state=state,
            machine_detection=detection,
        )
        self.calls[call.call_control_id] = call
        return {
            "data": {
                "call_control_id": call.call_control_id,
                "call_leg_id": call.call_leg_id,
                "call_session_id": call.call_session_id,
                "is_alive": False,
                "record_type": "call",
            }
        }

    def _call_status(self, call_control_id: str) -> Answer:
        call = self.calls.get(call_control_id)
        if call is None:
            raise not_found(f"no call {call_control_id}")
        return 200, {"data": call.status_json()}, False

    def _live_call(self, call_control_id: str) -> DoubleCall:
        call = self.calls.get(call_control_id)
        if call is None:
            raise not_found(f"no call {call_control_id}")
        if not call.alive:
            raise ApiError(422, "90018", "Call has already ended", "This call is no longer active.")
        return call

    def _action(self, call: DoubleCall, action: str, body: dict[str, Any]) -> dict[str, Any]:
        if action not in ACTIONS:
            raise not_found(f"no action {action}")
        missing = [name for name in REQUIRED.get(action, ()) if not body.get(name)]
        if missing:
            raise invalid(f"{action} needs {', '.join(missing)}")
        if action == "playback_start" and not (
            body.get("audio_url") or body.get("playback_content") or body.get("media_name")
        ):
            raise invalid("playback_start needs audio_url, media_name or playback_content")
        state = self._client_state(body)
        if action == "answer":
            if call.direction != "incoming" or call.answered:
                raise ApiError(422, "90015", "Call already answered", "The call was answered.")
            call.answered = True
        elif action in ("hangup", "reject"):
            call.end()
        elif action == "transfer":
            self._transfer(call, body)
        if state is not None:
            call.client_state = state
        return {"data": {"result": "ok"}}

    def _transfer(self, call: DoubleCall, body: dict[str, Any]) -> None:
        callee = DoubleCall(
            call_control_id=f"v3:{secrets.token_urlsafe(24)}",
            from_=body.get("from") or call.from_,
            to=body["to"],
            direction="outgoing",
            connection_id=call.connection_id,
            webhook_url=body.get("webhook_url") or call.webhook_url,
            client_state=self._client_state(body, "target_leg_client_state"),
            call_session_id=call.call_session_id,
            transfer_of=call.call_control_id,
            parks_caller=body.get("park_after_unbridge") == "self",
            outcome=self.transfer_outcomes.get(body["to"], "answered"),
        )
        self.calls[callee.call_control_id] = callee

    def _client_state(self, body: Mapping[str, Any], name: str = "client_state") -> str | None:
        value = body.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise invalid(f"{name} must be a string")
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise invalid(f"{name} must be valid Base-64") from None
        if self.client_state_limit is not None and len(value) > self.client_state_limit:
            raise invalid(f"{name} is longer than {self.client_state_limit} characters")
        return value

    # -- recordings -------------------------------------------------------------------------

    def add_recording(self, call: DoubleCall, content: bytes, **fields: Any) -> DoubleRecording:
        recording = DoubleRecording(
            id=str(uuid.uuid4()),
            call_control_id=call.call_control_id,
            call_leg_id=call.call_leg_id,
            content=content,
            **fields,
        )
        self.recordings[recording.id] = recording
        return recording

    def media_url(self, recording: DoubleRecording, *, valid_for: float | None = None) -> str:
        """A pre-signed link, as Telnyx gives: no API key, expires (10 minutes by default)."""
        expires = int(time.time() + (self.media_link_seconds if valid_for is None else valid_for))
        token = self._media_token(recording.id, expires)
        return (
            f"{self.media_base_url}/media/{recording.id}.{recording.format}"
            f"?expires={expires}&signature={token}"
        )

    def _media_token(self, recording_id: str, expires: int) -> str:
        message = f"{recording_id}:{expires}".encode()
        return hmac.new(self._media_secret.encode(), message, hashlib.sha256).hexdigest()

    def media(
        self, recording_id: str, query: Mapping[str, str], headers: Mapping[str, str]
    ) -> DoubleRecording:
        """The recording behind a media link, checked as a storage service checks it."""
        if "authorization" in headers:
            raise ApiError(400, "InvalidArgument", "Only one auth mechanism allowed")
        recording = self.recordings.get(recording_id)
        expires = query.get("expires", "")
        if recording is None or recording.deleted or not expires.isdigit():
            raise ApiError(404, "NoSuchKey", "The specified key does not exist.")
        expected = self._media_token(recording_id, int(expires))
        if not hmac.compare_digest(query.get("signature", ""), expected):
            raise ApiError(403, "SignatureDoesNotMatch", "The signature does not match.")
        if int(expires) < time.time():
            raise ApiError(403, "AccessDenied", "Request has expired")
        return recording

    def _recording(self, method: str, recording_id: str) -> Answer:
        recording = self.recordings.get(recording_id)
        if recording is None or recording.deleted:
            raise not_found(f"no recording {recording_id}")
        if method == "DELETE":
            recording.deleted = True
        elif method != "GET":
            raise ApiError(405, "10016", "Method not allowed")
        urls = {recording.format: self.media_url(recording)}
        return 200, {"data": self._recording_json(recording, urls)}, False

    def _recording_json(self, recording: DoubleRecording, urls: dict[str, str]) -> dict[str, Any]:
        duration = recording.ended_at - recording.started_at
        return {
            "id": recording.id,
            "record_type": "recording",
            "call_control_id": recording.call_control_id,
            "call_leg_id": recording.call_leg_id,
            "channels": recording.channels,
            "download_urls": urls,
            "duration_millis": int(duration / timedelta(milliseconds=1)),
            "recording_started_at": iso(recording.started_at),
            "recording_ended_at": iso(recording.ended_at),
            "status": "completed",
        }

    # -- applications and conferences -------------------------------------------------------

    def _applications(self, rest: list[str]) -> Answer:
        application = {
            "id": self.connection_id,
            "record_type": "call_control_application",
            "application_name": "kraliki",
            "active": True,
        }
        if not rest:
            meta = {"page_number": 1, "page_size": 1, "total_pages": 1, "total_results": 1}
            return 200, {"data": [application], "meta": meta}, False
        if rest != [self.connection_id]:
            raise not_found(f"no Call Control application {rest[0]}")
        return 200, {"data": application}, False

    def _conferences(
        self, method: str, rest: list[str], query: Mapping[str, str], body: Any
    ) -> Answer:
        if method == "GET" and not rest:
            name = query.get("filter[name]")
            rooms = [
                _room_json(room)
                for room in self.conferences.values()
                if name in (None, room["name"])
            ]
            return 200, {"data": rooms, "meta": {"page_number": 1, "total_pages": 1}}, False
        if method == "POST" and not rest:
            return self._with_command("conferences", body, self._create_conference)
        if method == "POST" and len(rest) == 3 and rest[1] == "actions":
            room = self.conferences.get(rest[0])
            if room is None:
                raise not_found(f"no conference {rest[0]}")
            if rest[2] not in CONFERENCE_ACTIONS:
                raise not_found(f"no conference action {rest[2]}")
            return self._with_command(
                rest[0], body, lambda data: self._conference_action(room, rest[2], data)
            )
        raise not_found(f"no route for {method} /v2/conferences/{'/'.join(rest)}")

    def _create_conference(self, body: dict[str, Any]) -> dict[str, Any]:
        call = self._live_call(str(body.get("call_control_id")))
        if not body.get("name"):
            raise invalid("a conference needs a name")
        room = {
            "id": str(uuid.uuid4()),
            "name": body["name"],
            "record_type": "conference",
            "status": "in_progress",
            "created_at": iso(now()),
            "expires_at": iso(now() + timedelta(hours=4)),
            "participants": [call.call_control_id],
        }
        self.conferences[room["id"]] = room
        return {"data": _room_json(room)}

    def _conference_action(
        self, room: dict[str, Any], action: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        if action in NEEDS_CALL and not body.get("call_control_id"):
            raise invalid(f"{action} needs call_control_id")
        role = body.get("supervisor_role")
        if (action == "update" or role is not None) and role not in SUPERVISOR_ROLES:
            raise invalid(f"supervisor_role must be one of {', '.join(SUPERVISOR_ROLES)}")
        supervisors = room.setdefault("supervisors", {})
        if action == "join":
            room["participants"].append(self._live_call(body["call_control_id"]).call_control_id)
        elif action == "leave" and body["call_control_id"] in room["participants"]:
            room["participants"].remove(body["call_control_id"])
        elif action == "update" and body["call_control_id"] not in room["participants"]:
            raise not_found(f"call {body['call_control_id']} is not in conference {room['id']}")
        if action in ("join", "update") and role is not None:
            whisper_to = list(body.get("whisper_call_control_ids") or [])
            supervisors[body["call_control_id"]] = {"role": role, "whisper_to": whisper_to}
        return {"data": {"result": "ok"}}


def _room_json(room: dict[str, Any]) -> dict[str, Any]:
    """A conference as Telnyx shows it (without what the double keeps of its members)."""
    return {key: value for key, value in room.items() if key not in ("participants", "supervisors")}
