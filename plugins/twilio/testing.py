"""A local stand-in for Twilio, for this plugin's tests and for anyone testing a Kraliki
Twilio integration without Twilio.

It serves the REST API the provider uses (``KRALIKI_TWILIO_API_BASE_URL=double.url``) in
Twilio's wire format, records every request, fails on demand, and plays the carrier: it
sends the platform signed webhooks exactly as Twilio signs them, to the URLs the platform
gave when it created the call::

    async with TwilioDouble() as double:
        ...  # the platform's environment: double.environment() (its API base URL)
        await use_twilio(platform, tenant_id, double)  # its first account in the vault
        call = double.last_call()
        await double.send_status(call.sid, "ringing")
        answer = await double.answer(call.sid)          # POSTs the voice URL, keeps the TwiML
        await double.send_amd(call.sid, "machine_end_beep")  # the async AMD verdict
        await double.press(call.sid, "1")               # keys into the latest <Gather>
        await double.speak(call.sid, "billing")         # or speech, when it listens for it
        double.dial_outcomes["+420777000111"] = "no-answer"  # how a <Dial action> ends
        await double.pay_progress(call.sid, "4242424242424242")  # keys into the <Pay>
        double.payment_session(call.sid)                # its agent-assisted payment, if any
        await double.key_payment(call.sid, "4242424242424242")  # into the field asked for
        await double.payment_result(call.sid, confirmation="ch_1")  # after Status=complete
        await double.send_status(call.sid, "completed", duration=42)
        double.end_unreported(call.sid, "completed")   # ended, but no callback got through
        double.fail_next(2, status=503)                  # the next two REST requests fail
        double.hang_next()                               # the next one never answers
        double.conference("agent-7").participants       # who is in a room, muted, coaching
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType

import httpx
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from plugins.twilio.testing_conferences import (
    Conference,
    Participant,
    live_room,
    seat,
    tidy,
)
from plugins.twilio.testing_rest import RestApi
from plugins.twilio.testing_state import (
    CAPTURE_ERRORS,
    CAPTURE_PARAMETERS,
    Account,
    Call,
    Fault,
    PaymentSession,
    Recording,
    RestRequest,
    SentCallback,
    State,
    asked_fields,
    iso8601,
    mask,
    new_sid,
    reported,
    rfc2822,
    sample_media,
)
from plugins.twilio.testing_tenant import store_credentials, use_twilio

__all__ = [
    "Account",
    "Call",
    "Conference",
    "Participant",
    "PaymentSession",
    "Recording",
    "RestRequest",
    "SentCallback",
    "TwilioDouble",
    "store_credentials",
    "use_twilio",
]

SIGN = "sign"
"""``send_raw(signature=SIGN)``: sign the request as Twilio would (the default)."""
STATUS_EVENTS = {"initiated": "initiated", "ringing": "ringing", "in-progress": "answered"}
"""The StatusCallbackEvent that asks for each status (any ending is ``completed``)."""
DIAL_OUTCOMES = frozenset({"completed", "answered", "busy", "no-answer", "failed", "canceled"})
"""The ``DialCallStatus`` values Twilio posts to a ``<Dial>``'s action."""
DIAL_SECONDS = 27
"""``DialCallDuration`` of a dialled leg that answered (0 for one that did not)."""
MAX_DIALS = 20
"""``<Dial action>`` answers followed in a row before the double calls it a loop."""
WAITS = frozenset({"Gather", "Record", "Pay", "Hangup", "Reject", "Redirect", "Connect"})
"""Verbs the double does not play past when it looks for a ``<Dial action>`` to run: they wait
for the caller (driven with ``press``, ``speak``, ``send_raw``) or end the document."""


class TwilioDouble:
    """Start with ``async with`` (or ``start``/``stop``); ``url`` is ``http://127.0.0.1:<port>``.

    One account exists from the start (``account_sid``, ``auth_token``); ``add_account``
    makes more (one per tenant in multi-tenant tests).

    The double plays a ``<Dial action=...>`` it reaches in a document it fetched (the answer
    to ``answer``, ``inbound_call``, ``press``, ``speak``, or to an earlier dial): the dialled
    party ends as ``dial_outcomes`` says, and the double POSTs the action, signed, with
    ``DialCallStatus``, ``DialCallSid`` and ``DialCallDuration``. The answer is the call's
    next document, played the same way. Those methods still return the first answer; the
    dial requests are in ``callbacks`` and ``Call.dialled``. A ``<Dial>`` without an action
    is not played and posts nothing (as before): the double reads on past it, as Twilio
    does once that leg ends.
    """

    def __init__(self) -> None:
        self.state = State()
        account = self.add_account()
        self.account_sid, self.auth_token = account.sid, account.auth_token
        self.dial_outcomes: dict[str, str] = {}
        """Number dialled -> the ``DialCallStatus`` its ``<Dial action>`` ends with
        (``completed``, ``answered``, ``busy``, ``no-answer``, ``failed``, ``canceled``);
        a number not listed answers, talks and hangs up: ``completed``."""
        self.url = ""
        self._released = asyncio.Event()
        self._stack = contextlib.AsyncExitStack()
        self._http: httpx.AsyncClient | None = None

    # --- what it holds ---------------------------------------------------------------------

    @property
    def requests(self) -> list[RestRequest]:
        """Every REST request received, in order."""
        return self.state.requests

    @property
    def callbacks(self) -> list[SentCallback]:
        """Every webhook sent as the carrier, with the platform's answer."""
        return self.state.callbacks

    @property
    def calls(self) -> dict[str, Call]:
        return self.state.calls

    @property
    def recordings(self) -> dict[str, Recording]:
        return self.state.recordings

    def add_account(self, status: str = "active") -> Account:
        account = Account(new_sid("AC"), secrets.token_hex(16), status=status)
        self.state.accounts[account.sid] = account
        return account

    def last_call(self) -> Call:
        return list(self.state.calls.values())[-1]

    def to(self, method: str, path_suffix: str) -> list[RestRequest]:
        """The REST requests of ``method`` whose path ends with ``path_suffix``."""
        return [r for r in self.requests if r.method == method and r.path.endswith(path_suffix)]

    def conference(self, name: str, account_sid: str | None = None) -> Conference | None:
        """The account's room of that FriendlyName not completed yet (its ``status``,
        ``participants`` by CallSid with ``muted``, ``coaching``, ``call_sid_to_coach``), as
        of now: a participant whose call ended has left."""
        tidy(self.state)
        return live_room(self.state, account_sid or self.account_sid, name)

    def last_twiml(self, call_sid: str) -> ET.Element:
        """The call's latest TwiML document, parsed."""
        return ET.fromstring(self.state.calls[call_sid].twiml[-1])  # noqa: S314 (ours)

    # --- failures --------------------------------------------------------------------------

    def fail_next(
        self, count: int = 1, status: int = 503, *, code: int | None = None, retry_after: str = ""
    ) -> None:
        """The next ``count`` REST requests answer ``status`` with a Twilio error body."""
        self.state.faults.extend(Fault(status, code, retry_after or None) for _ in range(count))

    def hang_next(self, count: int = 1) -> None:
        """The next ``count`` REST requests get no answer until the double stops."""
        self.state.faults.extend(Fault(hang=True) for _ in range(count))

    # --- playing the carrier ---------------------------------------------------------------

    def sign(self, url: str, form: Mapping[str, str], auth_token: str | None = None) -> str:
        """``X-Twilio-Signature`` of a POST of ``form`` to ``url``, as Twilio computes it."""
        return str(RequestValidator(auth_token or self.auth_token).compute_signature(url, form))

    async def send_raw(
        self,
        url: str,
        form: Mapping[str, str],
        *,
        signature: str | None = SIGN,
        auth_token: str | None = None,
        idempotency_token: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """POST a webhook: signed with ``auth_token`` (default: the first account's) unless
        ``signature`` is given (a forgery) or None (unsigned). ``idempotency_token``
        repeats an earlier delivery's (default: a fresh one)."""
        sent = {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "TwilioProxy/1.1",
            "I-Twilio-Idempotency-Token": idempotency_token or secrets.token_hex(16),
        }
        if signature == SIGN:
            sent["X-Twilio-Signature"] = self.sign(url, form, auth_token)
        elif signature is not None:
            sent["X-Twilio-Signature"] = signature
        sent.update(headers or {})
        assert self._http is not None, "start the double first"
        response = await self._http.post(url, data=dict(form), headers=sent)
        self.state.callbacks.append(
            SentCallback(url, dict(form), sent, response.status_code, response.content)
        )
        return response

    async def _deliver(self, call: Call, url: str, form: dict[str, str]) -> httpx.Response:
        token = self.state.accounts[call.account_sid].auth_token
        return await self.send_raw(url, form, auth_token=token)

    async def send_status(
        self,
        call_sid: str,
        status: str,
        *,
        sequence: int | None = None,
        duration: int | None = None,
        answered_by: str | None = None,
        sip_response_code: int | None = None,
        error_code: int | None = None,
        timestamp: datetime | None = None,
        extra: Mapping[str, str] | None = None,
        force: bool = False,
    ) -> httpx.Response | None:
        """A status callback, as Twilio sends one when the call reaches ``status``; None
        (nothing sent) when the platform did not ask for that event, unless ``force``."""
        call = self.state.calls[call_sid]
        event = STATUS_EVENTS.get(status, "completed")
        wanted = event == "completed" or event in call.status_callback_events
        if call.status_callback is None or not (wanted or force):
            return None
        if event == "completed":
            call.finish(status, duration)
        else:
            call.status = status
        form = call.base_form() | {
            "CallStatus": status,
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(sequence if sequence is not None else call.next_sequence()),
            "Timestamp": rfc2822(timestamp),
        }
        if event == "completed":
            seconds = duration or 0
            form |= {"CallDuration": str(seconds), "Duration": str(-(-seconds // 60))}
        if answered_by:
            form["AnsweredBy"] = answered_by
        if sip_response_code is not None:
            form["SipResponseCode"] = str(sip_response_code)
        if error_code is not None:
            form["ErrorCode"] = str(error_code)
        return await self._deliver(call, call.status_callback, form | dict(extra or {}))

    def end_unreported(
        self, call_sid: str, status: str = "completed", *, duration: int = 0
    ) -> None:
        """The call ends at Twilio, but its status callback never reaches the platform (it
        was lost, or the platform was down): only the REST API tells (``Calls(sid).fetch``)."""
        self.state.calls[call_sid].finish(status, duration)

    async def answer(self, call_sid: str, *, answered_by: str | None = None) -> httpx.Response:
        """The callee picks up: POST the call's voice URL and keep the TwiML it answers."""
        call = self.state.calls[call_sid]
        assert call.url, "the call has no voice URL"
        call.status = "in-progress"
        form = call.base_form() | {"CallStatus": "in-progress"}
        if (call.machine_detection and not call.async_amd) or answered_by:
            form["AnsweredBy"] = call.answered_by = answered_by or "human"
        return await self._fetch_twiml(call, call.url, form)

    async def send_amd(
        self, call_sid: str, answered_by: str = "human", *, duration_ms: int = 3200
    ) -> httpx.Response:
        """Asynchronous AMD's verdict, as Twilio posts it to the call's
        ``AsyncAmdStatusCallback``: ``CallSid``, ``AccountSid``, ``AnsweredBy`` (``human``,
        ``machine_start``, ``machine_end_beep``, ``machine_end_silence``,
        ``machine_end_other``, ``fax``, ``unknown``) and ``MachineDetectionDuration`` (ms)."""
        call = self.state.calls[call_sid]
        assert call.async_amd, "the call was placed without AsyncAmd"
        assert call.async_amd_status_callback, "the call has no AsyncAmdStatusCallback"
        call.answered_by = answered_by
        form = {
            "CallSid": call.sid,
            "AccountSid": call.account_sid,
            "AnsweredBy": answered_by,
            "MachineDetectionDuration": str(duration_ms),
        }
        return await self._deliver(call, call.async_amd_status_callback, form)

    async def inbound_call(
        self,
        url: str,
        *,
        from_: str,
        to: str,
        account_sid: str | None = None,
        status_callback: str | None = None,
    ) -> tuple[Call, httpx.Response]:
        """Someone calls one of the account's numbers: POST ``url`` (the number's voice URL).
        Twilio answers the call to run the TwiML it gets (anything but ``<Reject>``): the call
        is ``in-progress`` from then on, and later requests say so. ``status_callback`` is the
        number's "call status changes" URL, which hears only how the call ends
        (``send_status(sid, "completed")``)."""
        call = Call(new_sid("CA"), account_sid or self.account_sid, to, from_, "inbound", "ringing")
        call.url = url
        call.status_callback = status_callback
        self.state.calls[call.sid] = call
        response = await self._fetch_twiml(call, url, call.base_form() | {"CallStatus": "ringing"})
        return call, response

    async def press(self, call_sid: str, digits: str) -> httpx.Response:
        """The caller keys ``digits`` into the latest ``<Gather>``: POST its action URL."""
        call, action = self._gather_action(call_sid, "dtmf")
        form = call.base_form() | {"CallStatus": call.status, "Digits": digits}
        return await self._fetch_twiml(call, action, form)

    async def speak(self, call_sid: str, text: str, *, confidence: float = 0.92) -> httpx.Response:
        """The caller says ``text`` to the latest ``<Gather>`` that listens for speech: POST
        its action URL with what Twilio's recognizer heard (``SpeechResult``, ``Confidence``;
        no ``Digits``, as Twilio sends it)."""
        call, action = self._gather_action(call_sid, "speech")
        form = call.base_form() | {
            "CallStatus": call.status,
            "SpeechResult": text,
            "Confidence": str(confidence),
        }
        return await self._fetch_twiml(call, action, form)

    async def pay(
        self,
        call_sid: str,
        result: str = "success",
        *,
        confirmation: str | None = None,
        error: str | None = None,
        card_number: str = "xxxxxxxxxxxx4242",
        card_type: str = "visa",
    ) -> httpx.Response:
        """The latest ``<Pay>`` ended with ``result`` (``success``, ``too-many-failed-attempts``,
        ``caller-interrupted-with-star``...): POST its action URL as Twilio does, with the
        connector's ``PaymentConfirmationCode`` and the card fields Twilio sends masked
        (``card_number``: what a test makes it send instead)."""
        call = self.state.calls[call_sid]
        pay = self.last_twiml(call_sid).find(".//Pay")
        assert pay is not None, "the call's TwiML has no <Pay>"
        form = call.base_form() | {
            "CallStatus": call.status,
            "Result": result,
            "PaymentCardNumber": card_number,
            "PaymentCardType": card_type,
            "ExpirationDate": "1230",
            "SecurityCode": "xxx",
            "PaymentCardPostalCode": "94107",
            "ProfileId": "",
            "PaymentToken": "",
            "PaymentMethod": "credit-card",
        }
        if confirmation is not None:
            form["PaymentConfirmationCode"] = confirmation
        if error is not None:
            form["PaymentError"] = error
        return await self._fetch_twiml(call, pay.attrib["action"], form)

    async def pay_progress(
        self,
        call_sid: str,
        digits: str,
        *,
        field: str = "payment-card-number",
        valid: bool = True,
    ) -> list[httpx.Response]:
        """The caller keys ``digits`` into ``field`` of the latest ``<Pay>``: Twilio posts its
        ``statusCallback`` a partial result per digit, then the field's result (see
        ``key_payment``), naming the field in ``For``. ``<Pay>`` asks for its fields in order,
        so those before ``field`` are done: ``Required`` is ``field`` and those after it."""
        call = self.state.calls[call_sid]
        pay = self.last_twiml(call_sid).find(".//Pay")
        assert pay is not None, "the call's TwiML has no <Pay>"
        assert "statusCallback" in pay.attrib, "the <Pay> has no statusCallback"
        method = pay.attrib.get("paymentMethod", "credit-card")
        asked = asked_fields(
            method,
            postal_code=pay.attrib.get("postalCode", "true").lower() != "false",
            security_code=pay.attrib.get("securityCode", "true").lower() != "false",
        )
        head = {
            "AccountSid": call.account_sid,
            "CallSid": call.sid,
            "For": field,
            "Attempt": "1",
            "PaymentMethod": method,
            "ChargeAmount": pay.attrib.get("chargeAmount", ""),
            "Currency": pay.attrib.get("currency", "usd"),
            "PaymentConnector": pay.attrib.get("paymentConnector", "Default"),
        }
        required = asked[asked.index(field) :] if field in asked else asked
        url = pay.attrib["statusCallback"]
        return await self._key_field(call, url, head, digits, required=required, valid=valid)

    def payment_session(self, call_sid: str) -> PaymentSession:
        """The call's latest agent-assisted payment session (``Calls/{sid}/Payments``)."""
        sessions = [p for p in self.state.payments.values() if p.call_sid == call_sid]
        assert sessions, "the call has no payment session"
        return sessions[-1]

    async def key_payment(
        self, call_sid: str, digits: str, *, valid: bool = True
    ) -> list[httpx.Response]:
        """The caller keys ``digits`` into the field the call's payment session asks for
        (its last ``Capture``): Twilio posts the session's ``status_callback`` a partial
        result per digit (``PartialResult=true``), then the field's result
        (``PartialResult=false``), each with what was keyed masked; ``valid=False``: the
        digits are refused (``ErrorType``) and the field stays ``Required``."""
        session = self.payment_session(call_sid)
        assert session.status == "active", f"the payment session is {session.status}"
        assert session.capturing, "the payment session asks for no field (update it: Capture)"
        field = session.capturing
        session.keyed.pop(field, None)
        head = {
            "AccountSid": session.account_sid,
            "CallSid": call_sid,
            "Sid": session.sid,
            "Capture": field,
            **session.described(),
            "PaymentConnector": session.connector or "",
        }
        responses = await self._key_field(
            self.state.calls[call_sid],
            session.status_callback,
            head,
            digits,
            required=session.required(),
            valid=valid,
        )
        if valid:
            session.keyed[field] = digits
        return responses

    async def payment_result(
        self,
        call_sid: str,
        result: str = "success",
        *,
        confirmation: str | None = None,
        error: str | None = None,
        token: str | None = None,
    ) -> httpx.Response:
        """The connector's outcome of the call's payment session, after ``Status=complete``
        (``success``, ``payment-connector-error``, ``too-many-failed-attempts``,
        ``validation-error``, ``internal-error``...): Twilio posts it to the session's
        ``status_callback`` with the card masked. The digits are dropped then: the connector
        has had them, and the double keeps nothing it no longer needs."""
        session = self.payment_session(call_sid)
        assert session.status == "complete-requested", f"the payment session is {session.status}"
        session.status = "completed"
        form = {
            "AccountSid": session.account_sid,
            "CallSid": call_sid,
            "Sid": session.sid,
            "Result": result,
            "PaymentToken": token or "",
            **reported("payment-card-number", session.keyed.get("payment-card-number", "")),
            "ExpirationDate": mask("expiration-date", session.keyed.get("expiration-date", "")),
            "SecurityCode": mask("security-code", session.keyed.get("security-code", "")),
            **session.described(),
            "DateUpdated": iso8601(),
        }
        if confirmation is not None:
            form["PaymentConfirmationCode"] = confirmation
        if error is not None:
            form["PaymentError"] = error
        session.keyed.clear()
        return await self._deliver(self.state.calls[call_sid], session.status_callback, form)

    async def _key_field(
        self,
        call: Call,
        url: str,
        head: dict[str, str],
        digits: str,
        *,
        required: Sequence[str],
        valid: bool,
    ) -> list[httpx.Response]:
        """The callbacks of one field keyed (named in ``head``'s ``Capture`` or ``For``): a
        partial result per digit, then the final one, with the whole value masked and the
        field out of ``Required`` (still in it, and an ``ErrorType``, when not ``valid``)."""
        field = head.get("Capture") or head["For"]
        assert field in CAPTURE_PARAMETERS, f"not a field Twilio captures: {field!r}"
        responses = []
        for count in range(1, len(digits) + 1):
            form = head | {
                "PartialResult": "true",
                "Required": ",".join(required),
                "ErrorType": "",
                "DateUpdated": iso8601(),
                **reported(field, digits[:count], whole=False),
            }
            responses.append(await self._deliver(call, url, form))
        left = required if not valid else [name for name in required if name != field]
        final = head | {
            "PartialResult": "false",
            "Required": ",".join(left),
            "ErrorType": "" if valid else CAPTURE_ERRORS[field],
            "DateUpdated": iso8601(),
            **reported(field, digits),
        }
        responses.append(await self._deliver(call, url, final))
        return responses

    def _gather_action(self, call_sid: str, input_: str) -> tuple[Call, str]:
        """The call and the action URL of its latest ``<Gather>``, which must accept
        ``input_`` (Twilio ignores keys or speech a gather does not listen for)."""
        call = self.state.calls[call_sid]
        gather = self.last_twiml(call_sid).find(".//Gather")
        assert gather is not None, "the call's TwiML has no <Gather>"
        accepted = gather.attrib.get("input", "dtmf").split()
        assert input_ in accepted, f"the <Gather> listens for {accepted}, not {input_}"
        return call, gather.attrib["action"]

    async def _fetch_twiml(
        self, call: Call, url: str, form: dict[str, str], *, dials: int = 0
    ) -> httpx.Response:
        """POST a webhook whose answer is TwiML, keep the document and play the
        ``<Dial action>`` it reaches, if any."""
        response = await self._deliver(call, url, form)
        if response.status_code == 200 and response.content:
            call.twiml.append(response.text)
            if call.status == "ringing" and call.direction == "inbound" and _answers(response.text):
                call.status = "in-progress"
            seat(self.state, call)
            dial = _reached_dial(response.text)
            if dial is not None:
                assert dials < MAX_DIALS, f"{MAX_DIALS} dials in a row: a loop?"
                await self._play_dial(call, dial, dials=dials + 1)
        return response

    async def _play_dial(self, call: Call, dial: ET.Element, *, dials: int) -> None:
        """The dialled party ends as ``dial_outcomes`` says; Twilio posts the dial's action."""
        number = (dial.text or "").strip() or "".join((child.text or "").strip() for child in dial)
        outcome = self.dial_outcomes.get(number, "completed")
        assert outcome in DIAL_OUTCOMES, f"not a DialCallStatus: {outcome!r}"
        assert dial.attrib.get("method", "POST") == "POST", "the double POSTs dial actions"
        call.dialled.append((number, outcome))
        talked = outcome in ("completed", "answered")
        form = call.base_form() | {
            "CallStatus": call.status,
            "DialCallStatus": outcome,
            "DialCallSid": new_sid("CA"),
            "DialCallDuration": str(DIAL_SECONDS if talked else 0),
            "DialBridged": "true" if talked else "false",
        }
        await self._fetch_twiml(call, dial.attrib["action"], form, dials=dials)

    async def send_recording(
        self,
        call_sid: str,
        status: str = "completed",
        *,
        recording_sid: str | None = None,
        duration: int = 7,
        channels: int = 2,
        media: bytes | None = None,
        url: str | None = None,
    ) -> httpx.Response:
        """A recording status callback (the recording is created if it is new). It goes to
        ``url``, else where the platform asked: the recording's own callback, the call's
        ``RecordingStatusCallback``, or the ``<Record>`` in its TwiML."""
        call = self.state.calls[call_sid]
        recording = self.state.recordings.get(recording_sid or "")
        if recording is None:
            recording = Recording(
                recording_sid or new_sid("RE"),
                call.account_sid,
                call.sid,
                channels=channels,
                source="OutboundAPI" if call.record else "StartCallRecordingAPI",
                media=sample_media(),
            )
            self.state.recordings[recording.sid] = recording
            call.recordings.append(recording.sid)
        recording.status = status
        recording.duration = duration if status == "completed" else None
        if media is not None:
            recording.media = media
        target = url or recording.status_callback or call.recording_status_callback
        target = target or self._twiml_attribute(call, ".//Record", "recordingStatusCallback")
        form = {
            "AccountSid": call.account_sid,
            "CallSid": call.sid,
            "RecordingSid": recording.sid,
            "RecordingUrl": recording.url,
            "RecordingStatus": status,
            "RecordingDuration": str(duration if status == "completed" else -1),
            "RecordingChannels": str(recording.channels),
            "RecordingSource": recording.source,
            "RecordingStartTime": rfc2822(),
            "RecordingTrack": "both",
        }
        return await self._deliver(call, target, form)

    async def send_transcription(
        self,
        call_sid: str,
        text: str,
        *,
        track: str = "inbound_track",
        confidence: float = 0.93,
        final: bool = True,
        sequence: int = 1,
        event: str = "transcription-content",
        transcription_sid: str = "GT" + "0" * 32,
        url: str | None = None,
    ) -> httpx.Response:
        """A real-time transcription callback, to ``url`` or the ``<Transcription>``'s
        ``statusCallbackUrl`` in the call's TwiML."""
        call = self.state.calls[call_sid]
        target = url or self._twiml_attribute(call, ".//Transcription", "statusCallbackUrl")
        form = {
            "AccountSid": call.account_sid,
            "CallSid": call.sid,
            "TranscriptionSid": transcription_sid,
            "Timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "SequenceId": str(sequence),
            "TranscriptionEvent": event,
            "LanguageCode": "en-US",
            "ProviderName": "Google",
        }
        if event == "transcription-content":
            form |= {
                "Track": track,
                "TranscriptionData": json.dumps({"transcript": text, "confidence": confidence}),
                "Final": "true" if final else "false",
            }
        return await self._deliver(call, target, form)

    def last_dial_callback(self, call_sid: str) -> SentCallback:
        """The latest ``<Dial>`` action request the double sent for the call."""
        sent = [
            c
            for c in self.state.callbacks
            if c.form.get("CallSid") == call_sid and "DialCallStatus" in c.form
        ]
        assert sent, "the double played no <Dial action> for the call"
        return sent[-1]

    def _twiml_attribute(self, call: Call, path: str, attribute: str) -> str:
        for document in reversed(call.twiml):
            element = ET.fromstring(document).find(path)  # noqa: S314 (the platform's)
            if element is not None and attribute in element.attrib:
                return element.attrib[attribute]
        raise AssertionError(f"no {path} with {attribute} in the call's TwiML")

    # --- serving ---------------------------------------------------------------------------

    async def start(self) -> None:
        from kernel.testing import serve_app

        self._released = asyncio.Event()
        app = RestApi(self.state, lambda: self._released)
        self.url = await self._stack.enter_async_context(serve_app(app))
        # The double's webhooks wait for the platform's answer as long as a loaded test
        # machine may need (Twilio itself waits 15 s; tests check the wire, not the pace).
        self._http = httpx.AsyncClient(timeout=30)

    async def stop(self) -> None:
        self._released.set()  # hanging requests return
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        await self._stack.aclose()

    async def __aenter__(self) -> TwilioDouble:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def environment(self) -> dict[str, str]:
        """Environment for a platform that should talk to this double."""
        return {"KRALIKI_TWILIO_API_BASE_URL": self.url}


def _answers(document: str) -> bool:
    """Whether Twilio answers an incoming call to run ``document`` (all TwiML but a
    ``<Reject>`` first: a call rejected is never answered)."""
    try:
        root = ET.fromstring(document)  # noqa: S314 (the platform's)
    except ET.ParseError:
        return False
    return len(root) > 0 and root[0].tag != "Reject"


def _reached_dial(document: str) -> ET.Element | None:
    """The ``<Dial action>`` Twilio reaches when it runs ``document`` top to bottom, if any:
    verbs before it play and go on (a ``<Dial>`` without an action too), ``WAITS`` stop."""
    try:
        root = ET.fromstring(document)  # noqa: S314 (the platform's)
    except ET.ParseError:
        return None  # not TwiML: nothing to play
    for verb in root:
        if verb.tag in WAITS:
            return None
        if verb.tag == "Dial" and "action" in verb.attrib:
            return verb
    return None
