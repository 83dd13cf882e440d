"""Conferences of the Twilio double: a call whose TwiML reaches ``<Dial><Conference>`` joins
the account's room of that FriendlyName as a Participant (``muted``, ``coach`` as its TwiML
says), and the REST API lists rooms and updates participants in Twilio's wire format.

As at Twilio, a room is ``init`` until a participant that starts it
(``startConferenceOnEnter``, default true) joins, ``in-progress`` then, and ``completed``
once its last participant has left (hung up, or moved on by new TwiML)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from plugins.twilio.testing_state import API_VERSION, Call, State, new_sid, rfc2822

WAITS = frozenset({"Gather", "Record", "Pay", "Hangup", "Reject", "Redirect", "Connect"})
ENDED = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


@dataclass
class Participant:
    call_sid: str
    muted: bool = False
    coaching: bool = False
    call_sid_to_coach: str | None = None
    start_conference_on_enter: bool = True
    end_conference_on_exit: bool = False

    def as_json(self, room: Conference) -> dict[str, Any]:
        return {
            "account_sid": room.account_sid,
            "call_sid": self.call_sid,
            "label": None,
            "call_sid_to_coach": self.call_sid_to_coach,
            "coaching": self.coaching,
            "conference_sid": room.sid,
            "date_created": rfc2822(),
            "date_updated": rfc2822(),
            "end_conference_on_exit": self.end_conference_on_exit,
            "muted": self.muted,
            "hold": False,
            "start_conference_on_enter": self.start_conference_on_enter,
            "status": "connected",
            "queue_time": None,
            "uri": f"{room.path}/Participants/{self.call_sid}.json",
        }


@dataclass
class Conference:
    sid: str
    account_sid: str
    friendly_name: str
    status: str = "init"
    participants: dict[str, Participant] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Conferences/{self.sid}"

    def as_json(self) -> dict[str, Any]:
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "date_created": rfc2822(),
            "date_updated": rfc2822(),
            "friendly_name": self.friendly_name,
            "region": "us1",
            "sid": self.sid,
            "status": self.status,
            "reason_conference_ended": None,
            "call_sid_ending_conference": None,
            "uri": f"{self.path}.json",
            "subresource_uris": {
                "participants": f"{self.path}/Participants.json",
                "recordings": f"{self.path}/Recordings.json",
            },
        }


def reached_conference(document: str) -> ET.Element | None:
    """The ``<Conference>`` Twilio reaches running ``document`` top to bottom, if any."""
    try:
        root = ET.fromstring(document)  # noqa: S314 (the platform's)
    except ET.ParseError:
        return None
    for verb in root:
        if verb.tag in WAITS:
            return None
        if verb.tag == "Dial" and (room := verb.find("Conference")) is not None:
            return room
    return None


def seat(state: State, call: Call) -> None:
    """After the call got a document: it leaves the room it was in and joins the one the
    document reaches, if any (only an answered call is in a conference)."""
    tidy(state)
    for left in state.conferences.values():
        left.participants.pop(call.sid, None)
    element = reached_conference(call.twiml[-1]) if call.twiml else None
    if element is None or call.status != "in-progress":
        tidy(state)
        return
    name = (element.text or "").strip()
    room = live_room(state, call.account_sid, name)
    if room is None:
        room = Conference(new_sid("CF"), call.account_sid, name)
        state.conferences[room.sid] = room
    coach = element.attrib.get("coach")
    member = Participant(
        call_sid=call.sid,
        muted=element.attrib.get("muted") == "true",
        coaching=coach is not None,
        call_sid_to_coach=coach,
        start_conference_on_enter=element.attrib.get("startConferenceOnEnter") != "false",
        end_conference_on_exit=element.attrib.get("endConferenceOnExit") == "true",
    )
    room.participants[call.sid] = member
    if member.start_conference_on_enter:
        room.status = "in-progress"
    tidy(state)


def live_room(state: State, account_sid: str, name: str) -> Conference | None:
    for room in state.conferences.values():
        if (room.account_sid, room.friendly_name) == (account_sid, name) and (
            room.status != "completed"
        ):
            return room
    return None


def tidy(state: State) -> None:
    """Participants whose calls ended leave; a room left empty is completed."""
    for room in state.conferences.values():
        for sid in [sid for sid in room.participants if state.calls[sid].status in ENDED]:
            del room.participants[sid]
        if not room.participants:
            room.status = "completed"
