"""``TelnyxDouble``: a local stand-in for Telnyx, for tests that must not reach the real one.

It serves Telnyx's v2 REST API on loopback (uvicorn in the test's event loop) in Telnyx's
wire format (``testing_rest.py``), owns an Ed25519 key pair, and plays the carrier: it signs
and sends webhooks exactly as Telnyx does, to the ``webhook_url`` the platform gave::

    async with TelnyxDouble() as telnyx:
        # the platform's environment: telnyx.environment() (KRALIKI_TELNYX_API_BASE_URL);
        # an organization: await use_telnyx(platform, tenant_id, telnyx) (account, provider)
        placed = await provider.place_call(...)
        await telnyx.send_event(placed.provider_call_id, "call.answered")
        await telnyx.detect_machine(placed.provider_call_id, "machine")  # AMD's events
        telnyx.fail_next(2, status=503)       # the next two requests fail
        [speak] = telnyx.commands(action="speak")

A transfer creates the callee's leg and sends no webhook by itself (as before: tests of the
command alone see no traffic); ``end_transfer`` plays that leg's webhooks, ending as chosen
per number beforehand::

        telnyx.transfer_outcomes["+420777000111"] = "no_answer"   # default: "answered"
        await telnyx.end_transfer(caller_call_control_id)

Every request is kept in ``requests``; events sent in ``sent``. Duplicates, out-of-order
delivery, stale timestamps and forged signatures are the test's to stage: ``build_event``
then ``deliver`` in any order, ``resend`` (same event id), ``send_event(timestamp=...)``,
``send_raw(url, body, timestamp=..., signature=...)``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi import FastAPI, Request, Response

from plugins.telnyx.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_message
from plugins.telnyx.testing_rest import (
    TRANSFER_OUTCOMES,
    ApiError,
    DoubleCall,
    DoubleRecording,
    RecordedRequest,
    TelnyxApi,
    iso,
    now,
)
from plugins.telnyx.testing_tenant import store_secrets, use_telnyx

__all__ = [
    "TRANSFER_OUTCOMES",
    "DoubleCall",
    "DoubleRecording",
    "RecordedRequest",
    "SentEvent",
    "TelnyxDouble",
    "store_secrets",
    "use_telnyx",
]

DEFAULT_API_KEY = "KEY0123456789ABCDEF0123456789ABCD_telnyxdoubletestkey"
CALLEE_HANGUPS: dict[str, dict[str, str]] = {
    "answered": {
        "hangup_cause": "normal_clearing",
        "sip_hangup_cause": "200",
        "hangup_source": "callee",
    },
    "busy": {"hangup_cause": "user_busy", "sip_hangup_cause": "486", "hangup_source": "callee"},
    "no_answer": {
        "hangup_cause": "timeout",
        "sip_hangup_cause": "unspecified",
        "hangup_source": "unknown",
    },
    "failed": {
        "hangup_cause": "call_rejected",
        "sip_hangup_cause": "603",
        "hangup_source": "callee",
    },
    "canceled": {
        "hangup_cause": "originator_cancel",
        "sip_hangup_cause": "487",
        "hangup_source": "caller",
    },
}
"""The callee leg's ``call.hangup`` for each way a transfer ends, as Telnyx words it."""


@dataclass(frozen=True)
class Failure:
    status: int = 500
    delay: float = 0.0
    """Seconds to wait first; with ``status=0`` the request is then served normally."""
    retry_after: str | None = None
    code: str = "10007"
    title: str = "Unexpected error"


@dataclass(frozen=True)
class SentEvent:
    """One webhook the double sent, and how the platform answered it."""

    event_id: str
    event_type: str
    url: str
    body: bytes
    timestamp: str
    signature: str
    status: int
    response: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class TelnyxDouble:
    """Start with ``async with``; ``api_base_url`` is ``http://127.0.0.1:<port>/v2``."""

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        connection_id: str = "2001234567890123456",
        connection_webhook_url: str | None = None,
        command_window: float = 60.0,
        client_state_limit: int | None = 4096,
    ) -> None:
        self._key = Ed25519PrivateKey.generate()
        self.public_key = base64.b64encode(
            self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        ).decode()
        """Store it as the tenant's ``telnyx.public_key``."""
        self.connection_webhook_url = connection_webhook_url
        """Where events of inbound calls go (the Call Control application's webhook URL)."""
        self.api = TelnyxApi(
            api_key=api_key,
            connection_id=connection_id,
            command_window=command_window,
            client_state_limit=client_state_limit,
        )
        self.requests: list[RecordedRequest] = []
        self.sent: list[SentEvent] = []
        self.url = ""
        self._failures: deque[Failure] = deque()
        self._closing = asyncio.Event()
        self._stack = AsyncExitStack()
        self._http: httpx.AsyncClient | None = None
        self.on_dial: Callable[[DoubleCall], Awaitable[object]] | None = None
        """Awaited after a dial is accepted and before it is answered: a test's webhooks
        sent from here beat the REST answer, as Telnyx's sometimes do."""

    @property
    def api_key(self) -> str:
        return self.api.api_key

    @property
    def connection_id(self) -> str:
        return self.api.connection_id

    @property
    def api_base_url(self) -> str:
        return f"{self.url}/v2"

    def environment(self) -> dict[str, str]:
        """Environment for a platform that should talk to this double."""
        return {"KRALIKI_TELNYX_API_BASE_URL": self.api_base_url}

    @property
    def calls(self) -> dict[str, DoubleCall]:
        return self.api.calls

    @property
    def transfer_outcomes(self) -> dict[str, str]:
        """Number -> how a transfer to it ends (one of ``TRANSFER_OUTCOMES``), read when the
        transfer is made; a number not listed answers. ``end_transfer`` plays it."""
        return self.api.transfer_outcomes

    @transfer_outcomes.setter
    def transfer_outcomes(self, outcomes: dict[str, str]) -> None:
        self.api.transfer_outcomes = outcomes

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> TelnyxDouble:
        from kernel.testing import serve_app

        self.url = await self._stack.enter_async_context(serve_app(self._app()))
        self.api.media_base_url = self.url
        # As long as a loaded test machine may need (tests check the wire, not the pace).
        self._http = await self._stack.enter_async_context(httpx.AsyncClient(timeout=30))
        return self

    async def stop(self) -> None:
        self._closing.set()  # requests held by hang_next answer now
        await self._stack.aclose()

    async def __aenter__(self) -> TelnyxDouble:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- failure injection ------------------------------------------------------------------

    def fail_next(
        self,
        count: int = 1,
        status: int = 500,
        *,
        retry_after: str | None = None,
        code: str | None = None,
        title: str | None = None,
    ) -> None:
        """Answer the next ``count`` API requests with ``status`` and a Telnyx error body."""
        default = {429: ("10011", "Too many requests"), 503: ("10008", "Service unavailable")}
        known = default.get(status, ("10007", "Unexpected error"))
        failure = Failure(status, 0.0, retry_after, code or known[0], title or known[1])
        self._failures.extend([failure] * count)

    def hang_next(self, count: int = 1, seconds: float = 30.0) -> None:
        """Hold the next ``count`` requests ``seconds`` before serving them (a client with a
        shorter timeout gives up; the command may still take effect, as with Telnyx)."""
        self._failures.extend([Failure(0, seconds)] * count)

    # -- what happened ----------------------------------------------------------------------

    def commands(
        self, call_control_id: str | None = None, action: str | None = None
    ) -> list[RecordedRequest]:
        """Commands (dials and call actions) that took effect: answered 2xx, not repeats."""
        return [
            request
            for request in self.requests
            if request.action is not None
            and 200 <= request.status < 300
            and not request.duplicate
            and call_control_id in (None, request.call_control_id)
            and action in (None, request.action)
        ]

    def call(self, call_control_id: str) -> DoubleCall:
        return self.api.calls[call_control_id]

    def state_of(self, call_control_id: str) -> Any:
        """The call's current ``client_state``, decoded (JSON), or None."""
        from plugins.telnyx.client_state import decode

        return decode(self.call(call_control_id).client_state).to_json() or None

    # -- the carrier's side -----------------------------------------------------------------

    def incoming_call(self, from_: str, to: str, *, webhook_url: str | None = None) -> DoubleCall:
        """A call arriving from the network (send its ``call.initiated`` next)."""
        url = webhook_url or self.connection_webhook_url
        call = DoubleCall(
            call_control_id=f"v3:{uuid.uuid4().hex}",
            from_=from_,
            to=to,
            direction="incoming",
            connection_id=self.connection_id,
            webhook_url=url,
        )
        self.api.calls[call.call_control_id] = call
        return call

    def outgoing_call(
        self,
        from_: str,
        to: str,
        *,
        webhook_url: str | None = None,
        client_state: str | None = None,
    ) -> DoubleCall:
        """A call as if dialled through the API (without a request: for parsing tests)."""
        call = DoubleCall(
            call_control_id=f"v3:{uuid.uuid4().hex}",
            from_=from_,
            to=to,
            direction="outgoing",
            connection_id=self.connection_id,
            webhook_url=webhook_url,
            client_state=client_state,
        )
        self.api.calls[call.call_control_id] = call
        return call

    def end_unreported(self, call_control_id: str) -> DoubleCall:
        """The call ends at Telnyx, but its ``call.hangup`` never reaches the platform (lost,
        or the platform was down): only ``GET /v2/calls/{id}`` tells (``is_alive`` false)."""
        call = self.call(call_control_id)
        call.end()
        return call

    def forget(self, call_control_id: str) -> None:
        """Telnyx no longer knows the call (its status is kept ten minutes after it ended):
        ``GET /v2/calls/{id}`` answers 404."""
        del self.api.calls[call_control_id]

    def transfer_leg(self, call_control_id: str) -> DoubleCall:
        """The callee's leg of the call's latest transfer (``call_control_id`` may name the
        transferred call or the leg itself)."""
        call = self.call(call_control_id)
        if call.transfer_of is not None:
            return call
        legs = [leg for leg in self.calls.values() if leg.transfer_of == call_control_id]
        if not legs:
            raise LookupError(f"call {call_control_id} was not transferred")
        return legs[-1]

    async def end_transfer(
        self, call_control_id: str, outcome: str | None = None
    ) -> list[SentEvent]:
        """Play how the call's latest transfer ends, as Telnyx reports it to the transfer's
        ``webhook_url``: the callee leg's ``call.initiated``, its ``call.answered`` when it
        answers, then its ``call.hangup`` (cause as in ``CALLEE_HANGUPS``), each with the
        transfer's ``target_leg_client_state`` as the leg's ``client_state``.

        ``outcome`` (one of ``TRANSFER_OUTCOMES``) overrides the one ``transfer_outcomes``
        chose for the number. The caller's leg does what Telnyx does with it: an answered
        transfer that ends hangs the caller up too (its ``call.hangup`` follows) unless the
        transfer parked it (``park_after_unbridge=self``); a caller who gives up while the
        callee rings (``canceled``) hangs up first; otherwise the caller stays, parked."""
        leg = self.transfer_leg(call_control_id)
        ending = outcome or leg.outcome or "answered"
        if ending not in TRANSFER_OUTCOMES:
            raise ValueError(f"{ending!r} is not one of {', '.join(TRANSFER_OUTCOMES)}")
        if not leg.alive:
            raise ValueError(f"the transfer leg {leg.call_control_id} has ended already")
        assert leg.transfer_of is not None
        caller = self.call(leg.transfer_of)
        sent = [await self.send_event(leg.call_control_id, "call.initiated")]
        if ending == "answered":
            sent.append(await self.send_event(leg.call_control_id, "call.answered"))
        if ending == "canceled" and caller.alive:
            sent.append(
                await self.send_event(caller.call_control_id, "call.hangup", hangup_source="caller")
            )
        sent.append(
            await self.send_event(leg.call_control_id, "call.hangup", CALLEE_HANGUPS[ending])
        )
        if ending == "answered" and not leg.parks_caller and caller.alive:
            sent.append(
                await self.send_event(caller.call_control_id, "call.hangup", hangup_source="callee")
            )
        return sent

    async def detect_machine(
        self, call_control_id: str, result: str = "machine", *, greeting: str = "beep_detected"
    ) -> list[SentEvent]:
        """Answering-machine detection's events, as Telnyx sends them after the answer:
        ``call.machine.detection.ended`` with ``result`` (``human``, ``machine``,
        ``not_sure``), then, for a machine on a call dialled with ``detect_beep``,
        ``call.machine.greeting.ended`` with ``greeting`` (``beep_detected``, ``ended``,
        ``not_sure``)."""
        call = self.call(call_control_id)
        assert call.machine_detection not in (None, "disabled"), "the dial asked no detection"
        sent = [
            await self.send_event(call_control_id, "call.machine.detection.ended", result=result)
        ]
        if result == "machine" and call.machine_detection == "detect_beep":
            sent.append(
                await self.send_event(
                    call_control_id, "call.machine.greeting.ended", result=greeting
                )
            )
        return sent

    def add_recording(
        self, call_control_id: str, content: bytes = b"ID3 fake mp3", **fields: Any
    ) -> DoubleRecording:
        """A finished recording of the call (send ``call.recording.saved`` with it next)."""
        return self.api.add_recording(self.call(call_control_id), content, **fields)

    def media_url(self, recording: DoubleRecording, *, valid_for: float | None = None) -> str:
        return self.api.media_url(recording, valid_for=valid_for)

    def build_event(
        self,
        call_control_id: str,
        event_type: str,
        payload: Mapping[str, Any] | None = None,
        *,
        occurred_at: datetime | None = None,
        event_id: str | None = None,
        recording: DoubleRecording | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """The webhook body Telnyx sends for ``event_type`` on this call, with the call's
        current ``client_state``; ``payload`` and ``fields`` override payload members (a
        None value is sent as null)."""
        from plugins.telnyx.testing_payloads import event_payload

        call = self.call(call_control_id)
        body = event_payload(call, event_type, recording, self.api)
        body.update(payload or {})
        body.update(fields)
        return {
            "data": {
                "record_type": "event",
                "event_type": event_type,
                "id": event_id or str(uuid.uuid4()),
                "occurred_at": iso(occurred_at or now()),
                "payload": body,
            },
            "meta": {"attempt": 1, "delivered_to": call.webhook_url},
        }

    async def send_event(
        self,
        call_control_id: str,
        event_type: str,
        payload: Mapping[str, Any] | None = None,
        *,
        occurred_at: datetime | None = None,
        event_id: str | None = None,
        timestamp: int | None = None,
        url: str | None = None,
        recording: DoubleRecording | None = None,
        **fields: Any,
    ) -> SentEvent:
        """Build, sign and POST an event to the call's webhook URL (or ``url``)."""
        document = self.build_event(
            call_control_id,
            event_type,
            payload,
            occurred_at=occurred_at,
            event_id=event_id,
            recording=recording,
            **fields,
        )
        target = url or self.call(call_control_id).webhook_url
        if target is None:
            raise ValueError(f"call {call_control_id} has no webhook URL; pass url=")
        return await self.deliver(document, target, timestamp=timestamp)

    async def deliver(
        self, document: Mapping[str, Any], url: str, *, timestamp: int | None = None
    ) -> SentEvent:
        """Sign and POST a built event (``build_event``) now: any order, any number of times."""
        body = json.dumps(document, separators=(",", ":")).encode()
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        return await self.send_raw(url, body, timestamp=stamp, signature=self.sign(body, stamp))

    async def resend(self, sent: SentEvent, *, timestamp: int | None = None) -> SentEvent:
        """The same event again (same id and body), signed anew, as Telnyx's retries are."""
        return await self.deliver(json.loads(sent.body), sent.url, timestamp=timestamp)

    def sign(self, body: bytes, timestamp: str) -> str:
        """Telnyx's signature: Ed25519 over ``"{timestamp}|{body}"``, base64."""
        return base64.b64encode(self._key.sign(signed_message(timestamp, body))).decode()

    async def send_raw(
        self,
        url: str,
        body: bytes,
        *,
        timestamp: str | None = None,
        signature: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> SentEvent:
        """POST exactly this (an unsigned, forged or tampered webhook)."""
        assert self._http is not None, "start the double first"
        sent_headers = {"content-type": "application/json", "user-agent": "telnyx-webhooks"}
        if timestamp is not None:
            sent_headers[TIMESTAMP_HEADER] = timestamp
        if signature is not None:
            sent_headers[SIGNATURE_HEADER] = signature
        sent_headers.update(headers or {})
        response = await self._http.post(url, content=body, headers=sent_headers)
        try:
            data = json.loads(body).get("data", {})
        except (ValueError, AttributeError):
            data = {}
        data = data if isinstance(data, dict) else {}
        sent = SentEvent(
            event_id=str(data.get("id", "")),
            event_type=str(data.get("event_type", "")),
            url=url,
            body=body,
            timestamp=timestamp or "",
            signature=signature or "",
            status=response.status_code,
            response=response.content,
        )
        self.sent.append(sent)
        return sent

    # -- the server -------------------------------------------------------------------------

    def _app(self) -> FastAPI:
        app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        app.add_api_route("/{path:path}", self._serve, methods=methods)
        return app

    async def _serve(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        headers = {key.lower(): value for key, value in request.headers.items()}
        query = dict(request.query_params)
        path = request.url.path
        if self._failures:
            failure = self._failures.popleft()
            if failure.delay:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), failure.delay)
            if failure.status:
                self._record(request.method, path, headers, query, body, failure.status)
                error = ApiError(failure.status, failure.code, failure.title)
                extra = {"retry-after": failure.retry_after} if failure.retry_after else {}
                return _json(failure.status, error.body, extra)
        if path.startswith("/media/"):
            return self._media(path, headers, query)
        try:
            status, answer, duplicate = self.api.handle(request.method, path, headers, query, body)
        except ApiError as exc:
            self._record(request.method, path, headers, query, body, exc.status)
            return _json(exc.status, exc.body)
        self._record(request.method, path, headers, query, body, status, duplicate)
        if self.on_dial is not None and path == "/v2/calls" and not duplicate:
            await self.on_dial(self.call(answer["data"]["call_control_id"]))
        return _json(status, answer)

    def _media(self, path: str, headers: dict[str, str], query: dict[str, str]) -> Response:
        recording_id = path.removeprefix("/media/").rsplit(".", 1)[0]
        try:
            recording = self.api.media(recording_id, query, headers)
        except ApiError as exc:
            self._record("GET", path, headers, query, None, exc.status)
            return Response(f"<Error><Code>{exc}</Code></Error>", exc.status, media_type="text/xml")
        self._record("GET", path, headers, query, None, 200)
        return Response(recording.content, media_type=recording.content_type)

    def _record(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        body: Any,
        status: int,
        duplicate: bool = False,
    ) -> None:
        self.requests.append(
            RecordedRequest(method, path, dict(headers), dict(query), body, status, duplicate)
        )


def _json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    content = b"" if body is None else json.dumps(body).encode()
    return Response(content, status, headers=dict(headers or {}), media_type="application/json")
