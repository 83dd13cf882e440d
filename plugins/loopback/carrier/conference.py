"""Conference rooms of the loopback carrier: per tenant, by name, in this process.

A call running a ``Conference`` step joins the room of that name and stays there (its later
steps do not run) until it hangs up, is hung up or is redirected. The room starts when a
member that starts it (``start_on_enter``) joins; until then its members wait (on a real
carrier they hear hold music). When a member with ``end_on_exit`` leaves, the conference
ends: every other member is hung up (``completed``, cause ``conference_ended``). Each
member keeps its ``muted`` and ``coach`` flags (what a supervisor's whisper will read).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from plugins.calls import CallStatus, Conference

if TYPE_CHECKING:
    from plugins.loopback.carrier.call import CarrierCall

ENDED_CAUSE = "conference_ended"


@dataclass
class Member:
    call: CarrierCall
    muted: bool
    coach: str | None
    """The provider call id this member whispers to (heard only by that call)."""
    start_on_enter: bool
    end_on_exit: bool
    joined_at: float
    """Simulated time of the member's call when it joined."""

    @property
    def provider_call_id(self) -> str:
        return self.call.provider_call_id


@dataclass
class Room:
    tenant_id: uuid.UUID
    name: str
    members: dict[str, Member] = field(default_factory=dict)
    """By provider call id, in the order they joined."""
    started: bool = False
    ended: bool = False


def room_key(tenant_id: uuid.UUID, name: str) -> tuple[uuid.UUID, str]:
    return tenant_id, name


def join(call: CarrierCall, step: Conference, *, at: float) -> Room:
    """Put ``call`` in the tenant's room named ``step.name`` (made if there is none)."""
    rooms = call.state.rooms
    key = room_key(call.context.tenant_id, step.name)
    room = rooms.get(key)
    if room is None or room.ended:
        room = rooms[key] = Room(call.context.tenant_id, step.name)
    room.members[call.provider_call_id] = Member(
        call=call,
        muted=step.muted,
        coach=step.coach_call_id,
        start_on_enter=step.start_on_enter,
        end_on_exit=step.end_on_exit,
        joined_at=at,
    )
    if step.start_on_enter:
        room.started = True
    call.log.append(("conference", step.name))
    return room


def leave(call: CarrierCall, room: Room) -> None:
    """``call`` left the room (hung up, hung up on, redirected); a member that ends the
    conference on exit ends every other member's call."""
    member = room.members.pop(call.provider_call_id, None)
    if member is None:
        return
    call.log.append(("left-conference", room.name))
    if member.end_on_exit and not room.ended:
        room.ended = True
        for other in list(room.members.values()):
            other.call.end(CallStatus.COMPLETED, ENDED_CAUSE)
    key = room_key(room.tenant_id, room.name)
    if not room.members and call.state.rooms.get(key) is room:
        del call.state.rooms[key]
