"""Helpers for tests and integrators: craft loopback webhooks by hand (duplicates, stale,
forged, out-of-order deliveries) and look at the calls the carrier is running.

::

    secret = await tenant_secret(platform, tenant_id)
    body = status_body(call_id, CallStatus.RINGING, sequence=2)
    first = await send_signed(base_url, tenant_id, "status", body, secret)
    again = await send_signed(base_url, tenant_id, "status", body, secret,
                              event_id=first.request.headers["loopback-event-id"])
    stale = await send_signed(base_url, tenant_id, "status", body, secret,
                              timestamp=int(time.time()) - 3600)        # 403

    conference_members(platform, tenant_id, "queue-42")   # who is in a room, with flags
    who_hears(platform, tenant_id, "agent-7")   # {listener: members it hears} (supervisors)
    run_at_time_scale(platform, 1.0)   # calls placed from now on run in real time
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from kernel import Platform
from plugins.calls import CallStatus, Direction, build_provider
from plugins.loopback.carrier.call import CarrierCall
from plugins.loopback.carrier.conference import Member, hears, room_key
from plugins.loopback.carrier.state import loopback_state
from plugins.loopback.payloads import Body, StatusBody, body_bytes
from plugins.loopback.secrets import signing_secret
from plugins.loopback.signature import new_event_id, sign


def webhook_url(platform_url: str, tenant_id: uuid.UUID, kind: str) -> str:
    return f"{platform_url.rstrip('/')}/webhooks/loopback/{tenant_id}/{kind}"


async def tenant_secret(platform: Platform, tenant_id: uuid.UUID) -> str:
    """The tenant's signing secret (created if it has none), to sign deliveries by hand."""
    provider = build_provider(platform, tenant_id, "loopback")
    return await signing_secret(provider.context, loopback_state(platform))


def status_body(
    call_id: str,
    status: CallStatus,
    *,
    sequence: int,
    from_number: str = "+15005550100",
    to_number: str = "+15005550199",
    **fields: Any,
) -> StatusBody:
    """A ``status`` report as the carrier would send it (``fields``: ``hangup_cause``,
    ``duration_seconds``, ``answered_by``, ``occurred_at``...)."""
    fields.setdefault("occurred_at", datetime.now(UTC))
    return StatusBody(
        call_id=call_id,
        sequence=sequence,
        status=status,
        direction=Direction.OUTBOUND,
        from_number=from_number,
        to_number=to_number,
        **fields,
    )


async def send_signed(
    platform_url: str,
    tenant_id: uuid.UUID,
    kind: str,
    body: Body | dict[str, Any] | bytes,
    secret: str,
    *,
    event_id: str | None = None,
    timestamp: int | None = None,
    signature: str | None = None,
    query: dict[str, str] | None = None,
    client: httpx.AsyncClient | None = None,
) -> httpx.Response:
    """POST one webhook to the platform signed with ``secret`` (another tenant's, a wrong
    one...). ``event_id`` repeats a delivery; ``timestamp`` back- or post-dates it;
    ``signature`` replaces the ``Loopback-Signature`` header outright (a forgery)."""
    if isinstance(body, bytes):
        raw = body
    elif isinstance(body, dict):
        raw = json.dumps(body).encode()
    else:
        raw = body_bytes(body)
    headers = sign(secret, raw, event_id=event_id or new_event_id(), timestamp=timestamp)
    if signature is not None:
        headers["Loopback-Signature"] = signature
    url = webhook_url(platform_url, tenant_id, kind)
    if client is not None:
        return await client.post(url, content=raw, headers=headers, params=query)
    async with httpx.AsyncClient() as own:
        return await own.post(url, content=raw, headers=headers, params=query)


async def crash_carrier(platform: Platform, *, died_ago: float | None = None) -> list[str]:
    """Stop this platform's carrier as a crash of its process would: its calls stop without
    a word to the platform, and its lease is no longer renewed. ``died_ago`` ages the lease
    as if the process died that many seconds ago (past ``KRALIKI_LOOPBACK_CARRIER_LEASE_
    SECONDS``, its calls are lost to the other processes). Returns the calls it dropped."""
    from sqlalchemy import update

    from kernel import utcnow
    from plugins.loopback.models import CarrierLease

    state = loopback_state(platform)
    # The crash comes after the platform heard all its calls said so far: a webhook still
    # on its way would make a call look heard of after the test aged it.
    for call in list(state.calls.values()):
        await call.outbox.drained()
    dropped = list(state.calls)
    await state.lease.stop_renewing()
    await state.close()
    if died_ago is not None:
        async with platform.database.session() as session:
            await session.execute(
                update(CarrierLease)
                .where(CarrierLease.instance == state.instance)
                .values(seen_at=utcnow() - timedelta(seconds=died_ago))
            )
            await session.commit()
    return dropped


def live_call(platform: Platform, provider_call_id: str) -> CarrierCall | None:
    """The carrier's running call (its ``log``, ``recordings``, ``on_hold``...), if any."""
    return loopback_state(platform).calls.get(provider_call_id)


def call_log(platform: Platform, provider_call_id: str) -> list[tuple[str, str]]:
    """What happened on the line of a running or recently ended call (``("pressed", "1")``,
    ``("hold", "")``, ``("dtmf", "12")``...)."""
    state = loopback_state(platform)
    live = state.calls.get(provider_call_id)
    if live is not None:
        return list(live.log)
    ended = state.ended.get(provider_call_id)
    return [] if ended is None else list(ended.log)


def conference_members(platform: Platform, tenant_id: uuid.UUID, name: str) -> list[Member]:
    """Who is in the tenant's conference room ``name`` now, in the order they joined: each
    :class:`~plugins.loopback.carrier.conference.Member` has ``provider_call_id``,
    ``muted``, ``coach``, ``supervisor`` (its role, None for an ordinary member),
    ``start_on_enter``, ``end_on_exit``, ``beep`` (the room beeped as it joined) (empty:
    no such room)."""
    room = loopback_state(platform).rooms.get(room_key(tenant_id, name))
    return [] if room is None else list(room.members.values())


def who_hears(platform: Platform, tenant_id: uuid.UUID, name: str) -> dict[str, frozenset[str]]:
    """Who hears whom in the tenant's room ``name`` now: each member's provider call id ->
    the provider call ids of the members it hears (a monitoring supervisor hears everyone
    and nobody hears it; a whisper is heard by the coached call only; empty: no such room)."""
    room = loopback_state(platform).rooms.get(room_key(tenant_id, name))
    return {} if room is None else hears(room)


def conference_started(platform: Platform, tenant_id: uuid.UUID, name: str) -> bool:
    """Whether a member that starts the conference (``start_on_enter``) has joined."""
    room = loopback_state(platform).rooms.get(room_key(tenant_id, name))
    return room is not None and room.started


def run_at_time_scale(platform: Platform, scale: float) -> None:
    """Calls placed from now on run at ``scale`` real seconds per simulated second (those
    running keep theirs): a test whose calls race at a hundredth of real time slows the one
    call it must act on while it rings."""
    state = loopback_state(platform)
    state.settings = state.settings.model_copy(update={"time_scale": scale})


def ended_status(platform: Platform, provider_call_id: str) -> CallStatus | None:
    """How a call of this process ended, once it has."""
    ended = loopback_state(platform).ended.get(provider_call_id)
    return None if ended is None else ended.status


# The loopback_calls fixture: use it with `from plugins.loopback.testing import loopback_calls`
# in a conftest.py.
from plugins.loopback.testing_calls import NUMBERS as NUMBERS  # noqa: E402
from plugins.loopback.testing_calls import LoopbackCalls as LoopbackCalls  # noqa: E402
from plugins.loopback.testing_calls import loopback_calls as loopback_calls  # noqa: E402
