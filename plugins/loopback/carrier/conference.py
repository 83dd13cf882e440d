"""Conference rooms of the loopback carrier: per tenant, by name, in this process.

A call running a ``Conference`` step joins the room of that name and stays there (its later
steps do not run) until it hangs up, is hung up or is redirected. The room starts when a
member that starts it (``start_on_enter``) joins; until then its members wait (on a real
carrier they hear hold music). When a member with ``end_on_exit`` leaves, the conference
ends: every other member is hung up (``completed``, cause ``conference_ended``). Each
member keeps its ``muted`` and ``coach`` flags, whether the room beeped as it joined
(``beep``) and, for a supervisor, its role (monitor, whisper, barge), which
:func:`supervise` changes while it is in the room; :func:`hears` says who hears whom from
them.

A supervisor never starts a room (it waits, as any member, for one that does).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from plugins.calls import CallStatus, Conference, ProviderRefused, SupervisorRole

if TYPE_CHECKING:
    from plugins.loopback.carrier.call import CarrierCall

ENDED_CAUSE = "conference_ended"


@dataclass
class Member:
    call: CarrierCall
    muted: bool
    coach: str | None
    """The provider call id this member whispers to (heard only by that call)."""
    supervisor: SupervisorRole | None
    """The member's supervisor role (None: an ordinary member)."""
    start_on_enter: bool
    end_on_exit: bool
    joined_at: float
    """Simulated time of the member's call when it joined."""
    beep: bool = False
    """The room beeped as the member joined (everyone in it heard the tone)."""

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
    role = step.supervisor
    member = Member(
        call=call,
        muted=step.muted,
        coach=step.coach_call_id,
        supervisor=role,
        start_on_enter=step.start_on_enter and role is None,
        end_on_exit=step.end_on_exit,
        joined_at=at,
        beep=step.beep,
    )
    room.members[call.provider_call_id] = member
    if member.start_on_enter:
        room.started = True
    call.log.append(("conference", step.name))
    if role is not None:
        _take_role(member, role, step.coach_call_id)
    return room


def supervise(call: CarrierCall, name: str, role: SupervisorRole, coach: str | None) -> None:
    """The supervisor ``call``, in the tenant's room ``name``, takes part as ``role`` from
    now on; :class:`ProviderRefused` when it is in no such room."""
    room = call.state.rooms.get(room_key(call.context.tenant_id, name))
    member = None if room is None or room.ended else room.members.get(call.provider_call_id)
    if member is None:
        raise ProviderRefused(
            f"loopback call {call.provider_call_id} is in no conference {name!r}",
            code="not-in-conference",
        )
    if role is SupervisorRole.WHISPER and not coach:
        raise ProviderRefused("a whisper needs the agent's call", code="no-coached-call")
    _take_role(member, role, coach)


def _take_role(member: Member, role: SupervisorRole, coach: str | None) -> None:
    member.supervisor = role
    member.muted = role is SupervisorRole.MONITOR
    member.coach = coach if role is SupervisorRole.WHISPER else None
    member.call.log.append(("supervisor", role.value))


def hears(room: Room) -> dict[str, frozenset[str]]:
    """Who hears whom in the room: each member's provider call id -> the members it hears.

    A member is heard by nobody when muted (a monitoring supervisor, a muted member or
    call), only by the call it coaches when it whispers, by everyone else otherwise; in a
    room not started yet nobody hears anybody (they wait)."""
    heard_by = {sid: _audience(member, room) for sid, member in room.members.items()}
    return {
        listener: frozenset(
            speaker
            for speaker, audience in heard_by.items()
            if speaker != listener and listener in audience
        )
        for listener in room.members
    }


def _audience(member: Member, room: Room) -> frozenset[str]:
    if not room.started or member.muted or member.call.muted:
        return frozenset()
    if member.coach is not None:
        return frozenset({member.coach}) & room.members.keys()
    return frozenset(room.members)


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
