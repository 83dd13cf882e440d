"""The Twilio double's REST API: the part of ``api.twilio.com/2010-04-01`` the provider uses,
in Twilio's wire format (form-encoded requests, HTTP basic auth, Twilio's JSON and errors)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from plugins.twilio.testing_conferences import seat, tidy
from plugins.twilio.testing_state import (
    API_VERSION,
    CAPTURE_PARAMETERS,
    Account,
    Call,
    PaymentSession,
    Recording,
    RestRequest,
    State,
    asked_fields,
    error,
    new_sid,
    sample_media,
)

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
ADDRESS = re.compile(r"^(client|sip):.+")
NOT_ANSWERED = ("queued", "initiated", "ringing")
TERMINAL = ("completed", "busy", "no-answer", "failed", "canceled")
MEDIA_TYPES = {"mp3": "audio/mpeg", "wav": "audio/x-wav"}
FAULT_ERRORS = {
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    503: (20503, "Service Unavailable"),
}
PAYMENT_REQUIRED = ("IdempotencyKey", "StatusCallback")
"""What every Payments request must name (create and update alike)."""
PAYMENT_STATUSES = {"complete": "complete-requested", "cancel": "cancelled"}
"""An update's ``Status`` -> the session's status from then on."""

Handler = Callable[..., Awaitable[Response]]


def twilio_error(code: int, message: str, status: int, **headers: str) -> JSONResponse:
    return JSONResponse(error(code, message, status), status_code=status, headers=headers)


def not_found(path: str) -> JSONResponse:
    return twilio_error(20404, f"The requested resource {path} was not found", 404)


class RestApi:
    """An ASGI app over the double's :class:`State`; every request is recorded first."""

    def __init__(self, state: State, released: Callable[[], asyncio.Event]) -> None:
        self.state = state
        self._released = released
        acc = rf"^/{API_VERSION}/Accounts/(?P<account>AC[0-9a-f]{{32}})"
        call = rf"{acc}/Calls/(?P<call>CA[0-9a-f]{{32}})"
        rec = r"(?P<rec>RE[0-9a-f]{32})"
        pay = r"(?P<payment>PK[0-9a-f]{32})"
        table: list[tuple[str, str, Handler]] = [
            ("GET", rf"{acc}\.json", self.fetch_account),
            ("POST", rf"{acc}/Calls\.json", self.create_call),
            ("GET", rf"{call}\.json", self.fetch_call),
            ("POST", rf"{call}\.json", self.update_call),
            ("POST", rf"{call}/Recordings\.json", self.create_recording),
            (
                "POST",
                rf"{call}/Recordings/(?P<rec>RE[0-9a-f]{{32}}|Twilio\.CURRENT)\.json",
                self.update_recording,
            ),
            ("DELETE", rf"{call}/Recordings/{rec}\.json", self.delete_recording),
            ("POST", rf"{call}/Payments\.json", self.create_payment),
            ("POST", rf"{call}/Payments/{pay}\.json", self.update_payment),
            ("GET", rf"{acc}/Recordings/{rec}\.(?P<ext>json|mp3|wav)", self.fetch_recording),
            ("DELETE", rf"{acc}/Recordings/{rec}\.json", self.delete_recording),
            ("GET", rf"{acc}/Conferences\.json", self.list_conferences),
            (
                "POST",
                rf"{acc}/Conferences/(?P<room>CF[0-9a-f]{{32}})/Participants/"
                rf"(?P<call>CA[0-9a-f]{{32}})\.json",
                self.update_participant,
            ),
        ]
        self.routes = [(method, re.compile(f"{path}$"), handler) for method, path, handler in table]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        response = await self.handle(request)
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        body = (await request.body()).decode()
        received = RestRequest(
            method=request.method,
            path=request.url.path,
            fields=parse_qsl(body, keep_blank_values=True),
            headers={k.lower(): v for k, v in request.headers.items()},
            auth=_basic_auth(request.headers.get("authorization", "")),
            query=dict(request.query_params),
        )
        self.state.requests.append(received)
        if self.state.faults:
            fault = self.state.faults.pop(0)
            if fault.hang:
                await self._released().wait()
            code, message = FAULT_ERRORS.get(fault.status, (fault.status, "Injected failure"))
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return twilio_error(fault.code or code, message, fault.status, **headers)
        for method, pattern, handler in self.routes:
            match = pattern.match(received.path)
            if match and method == received.method:
                account = self.state.accounts.get(match["account"])
                if account is None or received.auth != (account.sid, account.auth_token):
                    return twilio_error(20003, "Authenticate", 401)
                params = {k: v for k, v in match.groupdict().items() if k != "account"}
                return await handler(received, account, **params)
        return not_found(received.path)

    # --- accounts and calls ----------------------------------------------------------------

    async def fetch_account(self, request: RestRequest, account: Account, **_: str) -> Response:
        return JSONResponse(account.as_json())

    async def create_call(self, request: RestRequest, account: Account, **_: str) -> Response:
        form = request.form
        to, from_ = form.get("To", ""), form.get("From", "")
        if not to:
            return twilio_error(21201, "No 'To' number is specified", 400)
        if not from_:
            return twilio_error(21213, "No 'From' number is specified", 400)
        if not (form.get("Url") or form.get("Twiml") or form.get("ApplicationSid")):
            return twilio_error(21205, "Url parameter is required", 400)
        if not (E164.match(to) or ADDRESS.match(to)):
            return twilio_error(21211, f"Invalid 'To' Phone Number: {to}", 400)
        if not (E164.match(from_) or ADDRESS.match(from_)):
            return twilio_error(21212, f"Invalid 'From' Phone Number: {from_}", 400)
        call = Call(
            sid=new_sid("CA"),
            account_sid=account.sid,
            to=to,
            from_=from_,
            url=form.get("Url"),
            method=form.get("Method", "POST"),
            status_callback=form.get("StatusCallback"),
            status_callback_events=request.values("StatusCallbackEvent"),
            recording_status_callback=form.get("RecordingStatusCallback"),
            record=form.get("Record", "").lower() == "true",
            machine_detection=form.get("MachineDetection"),
            async_amd=form.get("AsyncAmd", "").lower() == "true",
            async_amd_status_callback=form.get("AsyncAmdStatusCallback"),
            timeout=int(form["Timeout"]) if form.get("Timeout", "").isdigit() else None,
        )
        if form.get("Twiml"):
            call.twiml.append(form["Twiml"])
        self.state.calls[call.sid] = call
        return JSONResponse(call.as_json(), status_code=201)

    def _call(self, account: Account, sid: str) -> Call | None:
        call = self.state.calls.get(sid)
        return call if call is not None and call.account_sid == account.sid else None

    async def fetch_call(self, request: RestRequest, account: Account, call: str) -> Response:
        found = self._call(account, call)
        return JSONResponse(found.as_json()) if found else not_found(request.path)

    async def update_call(self, request: RestRequest, account: Account, call: str) -> Response:
        found = self._call(account, call)
        if found is None:
            return not_found(request.path)
        form = request.form
        if (form.get("Twiml") or form.get("Url")) and found.status != "in-progress":
            return twilio_error(21220, "Call is not in-progress. Cannot redirect.", 400)
        found.updates.append(form)
        status = form.get("Status")
        if status == "canceled" and found.status in NOT_ANSWERED:
            found.finish("canceled")  # canceling an answered call does nothing, as at Twilio
        elif status == "completed" and found.status not in TERMINAL:
            found.finish("completed")
        if form.get("Twiml"):
            found.twiml.append(form["Twiml"])
            seat(self.state, found)
        if form.get("Url"):
            found.url, found.method = form["Url"], form.get("Method", "POST")
        return JSONResponse(found.as_json())

    # --- conferences -----------------------------------------------------------------------

    async def list_conferences(self, request: RestRequest, account: Account) -> Response:
        tidy(self.state)
        name, status = request.query.get("FriendlyName"), request.query.get("Status")
        rooms = [
            room.as_json()
            for room in self.state.conferences.values()
            if room.account_sid == account.sid
            and name in (None, room.friendly_name)
            and status in (None, room.status)
        ]
        path = f"/{API_VERSION}/Accounts/{account.sid}/Conferences.json"
        page = {"page": 0, "page_size": 50, "start": 0, "end": max(len(rooms) - 1, 0)}
        return JSONResponse(
            {
                "conferences": rooms,
                **page,
                "uri": path,
                "first_page_uri": path,
                "next_page_uri": None,
                "previous_page_uri": None,
            }
        )

    async def update_participant(
        self, request: RestRequest, account: Account, room: str, call: str
    ) -> Response:
        tidy(self.state)
        found = self.state.conferences.get(room)
        member = None if found is None else found.participants.get(call)
        if found is None or found.account_sid != account.sid or member is None:
            return not_found(request.path)
        form = request.form
        coach = form.get("CallSidToCoach")
        coaching = form.get("Coaching", "true" if coach else "").lower() == "true"
        if coaching and (coach is None or coach not in found.participants):
            return twilio_error(
                16050, "CallSidToCoach must be a participant of the conference", 400
            )
        if "Muted" in form:
            member.muted = form["Muted"].lower() == "true"
        if "Coaching" in form or coach:
            member.coaching = coaching
            member.call_sid_to_coach = coach if coaching else None
        return JSONResponse(member.as_json(found))

    # --- agent-assisted payments ------------------------------------------------------------

    async def create_payment(self, request: RestRequest, account: Account, call: str) -> Response:
        """Open a payment session on a live call. A create repeated with its
        ``IdempotencyKey`` (a retry whose answer was lost) gets the session it opened."""
        found = self._call(account, call)
        if found is None:
            return not_found(request.path)
        form = request.form
        if missing := _missing(form, PAYMENT_REQUIRED):
            return missing
        sessions = [p for p in self.state.payments.values() if p.call_sid == found.sid]
        for earlier in sessions:
            if earlier.idempotency_key == form["IdempotencyKey"]:
                return JSONResponse(earlier.as_json(), status_code=201)
        if found.status != "in-progress":
            return twilio_error(
                21220, "Call is not in-progress. Cannot create a payment session.", 400
            )
        if any(earlier.active for earlier in sessions):
            return twilio_error(64008, "A payment session is already in progress on this call", 400)
        session = _new_session(account, found, form)
        self.state.payments[session.sid] = session
        return JSONResponse(session.as_json(), status_code=201)

    async def update_payment(
        self, request: RestRequest, account: Account, call: str, payment: str
    ) -> Response:
        """Ask for one field (``Capture``) or end the session (``Status``). An update
        repeated with its ``IdempotencyKey`` is answered again but not applied again."""
        session = self.state.payments.get(payment)
        if self._call(account, call) is None or session is None or session.call_sid != call:
            return not_found(request.path)
        form = request.form
        if missing := _missing(form, PAYMENT_REQUIRED):
            return missing
        if any(u["IdempotencyKey"] == form["IdempotencyKey"] for u in session.updates):
            return JSONResponse(session.as_json())
        if not session.active:
            return twilio_error(64009, "The payment session is no longer active", 400)
        if refused := _refused_update(form):
            return refused
        _apply_update(session, form)
        return JSONResponse(session.as_json())

    # --- recordings ------------------------------------------------------------------------

    async def create_recording(self, request: RestRequest, account: Account, call: str) -> Response:
        found = self._call(account, call)
        if found is None:
            return not_found(request.path)
        if found.status != "in-progress":
            return twilio_error(21220, "Call is not in-progress. Cannot record.", 400)
        form = request.form
        recording = Recording(
            sid=new_sid("RE"),
            account_sid=account.sid,
            call_sid=found.sid,
            status_callback=form.get("RecordingStatusCallback"),
            channels=2 if form.get("RecordingChannels") == "dual" else 1,
            media=sample_media(),
        )
        self.state.recordings[recording.sid] = recording
        found.recordings.append(recording.sid)
        return JSONResponse(recording.as_json(), status_code=201)

    def _recording(self, account: Account, call: str, sid: str) -> Recording | None:
        found = self._call(account, call)
        if found is None:
            return None
        if sid == "Twilio.CURRENT":  # the call's recording under way, whatever its sid
            live = [
                r
                for r in map(self.state.recordings.__getitem__, found.recordings)
                if r.status in ("in-progress", "paused")
            ]
            return live[-1] if live else None
        recording = self.state.recordings.get(sid)
        return recording if recording is not None and recording.call_sid == call else None

    async def update_recording(
        self, request: RestRequest, account: Account, call: str, rec: str
    ) -> Response:
        recording = self._recording(account, call, rec)
        if recording is None or recording.deleted:
            return not_found(request.path)
        status = request.form.get("Status", "")
        if status not in ("paused", "in-progress", "stopped"):
            return twilio_error(21218, f"Invalid recording status: {status}", 400)
        recording.status = status
        return JSONResponse(recording.as_json())

    async def fetch_recording(
        self, request: RestRequest, account: Account, rec: str, ext: str
    ) -> Response:
        recording = self.state.recordings.get(rec)
        if recording is None or recording.deleted or recording.account_sid != account.sid:
            return not_found(request.path)
        if ext == "json":
            return JSONResponse(recording.as_json())
        if recording.status != "completed":
            return not_found(request.path)
        media = recording.media

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(media), 8192):
                yield media[start : start + 8192]

        return StreamingResponse(
            chunks(), media_type=MEDIA_TYPES[ext], headers={"Content-Length": str(len(media))}
        )

    async def delete_recording(
        self, request: RestRequest, account: Account, rec: str, call: str = ""
    ) -> Response:
        recording = self.state.recordings.get(rec)
        if (
            recording is None
            or recording.deleted
            or recording.account_sid != account.sid
            or (call and recording.call_sid != call)
        ):
            return not_found(request.path)
        recording.deleted = True
        return Response(status_code=204)


def _missing(form: dict[str, str], names: tuple[str, ...]) -> JSONResponse | None:
    """Twilio's 20001 for the first required parameter absent or empty, if any."""
    for name in names:
        if not form.get(name):
            return twilio_error(20001, f"Missing required parameter {name}", 400)
    return None


def _new_session(account: Account, call: Call, form: dict[str, str]) -> PaymentSession:
    method = form.get("PaymentMethod") or "credit-card"
    return PaymentSession(
        sid=new_sid("PK"),
        account_sid=account.sid,
        call_sid=call.sid,
        idempotency_key=form["IdempotencyKey"],
        status_callback=form["StatusCallback"],
        charge_amount=form.get("ChargeAmount"),
        currency=form.get("Currency"),
        connector=form.get("PaymentConnector"),
        payment_method=method,
        description=form.get("Description"),
        asked=asked_fields(
            method,
            postal_code=form.get("PostalCode", "").lower() != "false",
            security_code=form.get("SecurityCode", "").lower() != "false",
        ),
    )


def _refused_update(form: dict[str, str]) -> JSONResponse | None:
    """Why Twilio refuses an update: it names exactly one of ``Capture`` and ``Status``,
    each with one of the values Twilio knows."""
    if "Capture" not in form and "Status" not in form:
        return twilio_error(20001, "Missing required parameter Capture or Status", 400)
    if "Capture" in form and "Status" in form:
        return twilio_error(20001, "Only one of Capture or Status may be given", 400)
    if "Capture" in form and form["Capture"] not in CAPTURE_PARAMETERS:
        return twilio_error(64010, "Invalid Capture parameter", 400)
    if "Status" in form and form["Status"] not in PAYMENT_STATUSES:
        return twilio_error(64011, "Invalid Status parameter", 400)
    return None


def _apply_update(session: PaymentSession, form: dict[str, str]) -> None:
    """A ``Capture`` asks the caller for a field afresh (what was keyed into it goes: a
    re-request is a retry); a ``Status`` ends the session, and a cancelled one keeps no
    digits, since no connector will ever need them."""
    session.updates.append(form)
    session.status_callback = form["StatusCallback"]
    session.updated_at = datetime.now(UTC)
    if "Capture" in form:
        session.capturing = form["Capture"]
        session.keyed.pop(form["Capture"], None)
        return
    session.status = PAYMENT_STATUSES[form["Status"]]
    if session.status == "cancelled":
        session.keyed.clear()


def _basic_auth(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(encoded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password
