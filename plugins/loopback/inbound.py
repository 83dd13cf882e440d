"""Inbound loopback calls: the carrier dials one of the organization's loopback numbers as a
scripted caller. The call reaches the platform through loopback's signed webhooks, exactly as
a Twilio or Telnyx call to one of its numbers does, so it goes where the number routes (a
flow, a forward) with nothing special on the platform's side."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, ProblemError
from plugins.calls import Call, PhoneNumber, ProviderRefused, build_provider
from plugins.loopback.carrier.script import ScriptError, parse_caller_script
from plugins.loopback.problems import CARRIER_UNAVAILABLE, NUMBER_NOT_FOUND, SCRIPT_INVALID
from plugins.loopback.provider import LoopbackProvider

HEARD_WITHIN_SECONDS = 10.0
"""How long the caller of :func:`call_in` waits for the platform to hear of the call."""


@dataclass(frozen=True)
class InboundCall:
    provider_call_id: str
    call_id: uuid.UUID | None
    """The platform's call, once it heard of it."""


async def call_in(
    platform: Platform,
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    to_number: str,
    from_number: str,
    script: list[Any],
) -> InboundCall:
    """Call the tenant's loopback number ``to_number`` from ``from_number``; the caller does
    what ``script`` says. Returns once the platform heard of the call (or it ended first)."""
    try:
        caller = parse_caller_script(script)
    except ScriptError as exc:
        raise ProblemError(SCRIPT_INVALID, str(exc)[:500]) from None
    # RLS and the session's tenant keep another organization's numbers out of sight.
    number = await session.scalar(
        select(PhoneNumber.id).where(
            PhoneNumber.number == to_number, PhoneNumber.provider == "loopback"
        )
    )
    if number is None:
        raise ProblemError(NUMBER_NOT_FOUND, f"no loopback number {to_number} in your organization")
    await session.commit()  # nothing to keep: the webhooks write in sessions of their own
    provider = build_provider(platform, tenant_id, "loopback")
    assert isinstance(provider, LoopbackProvider)
    try:
        call = await provider.receive_call(
            to_number=to_number, from_number=from_number, script=caller
        )
    except ProviderRefused as exc:
        problem = CARRIER_UNAVAILABLE if exc.code == "carrier-closed" else SCRIPT_INVALID
        raise ProblemError(problem, str(exc)[:500]) from None
    heard = False
    with contextlib.suppress(TimeoutError):
        heard = await asyncio.wait_for(call.heard_of(), HEARD_WITHIN_SECONDS)
    call_id = None
    if heard:
        call_id = await session.scalar(
            select(Call.id).where(
                Call.provider == "loopback", Call.provider_call_id == call.provider_call_id
            )
        )
    return InboundCall(provider_call_id=call.provider_call_id, call_id=call_id)
