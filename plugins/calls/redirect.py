"""Redirecting a live call: replace what it runs now with new instructions (a caller waiting
on hold music moved into the conference where an agent waits).

As with control actions, the call's state and the provider's capabilities are checked first
(409), the transaction is committed before the provider is asked (no lock is held while it
answers), and what was done goes to the timeline afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform
from plugins.calls import service
from plugins.calls.models import Call
from plugins.calls.provider import Capability, Conference, Gather, Pay
from plugins.calls.registry import build_provider
from plugins.calls.routing import dump_instructions, parse_instructions
from plugins.calls.steering import provider_problems, require_capabilities, require_in_progress


def needed_capabilities(steps: Sequence[Any]) -> list[Capability]:
    """What the provider must be able to do to run ``steps`` (validated instructions)."""
    needed: dict[Capability, None] = {}
    for step in steps:
        if isinstance(step, Conference):
            needed[Capability.CONFERENCING] = None
            if step.coach_call_id or step.supervisor is not None:
                needed[Capability.COACHING] = None
        elif isinstance(step, Gather) and step.speech:
            needed[Capability.SPEECH_RECOGNITION] = None
        elif isinstance(step, Pay):
            needed[Capability.SECURE_PAYMENTS] = None
    return list(needed)


async def redirect_call(
    platform: Platform,
    session: AsyncSession,
    call_id: uuid.UUID,
    instructions: Sequence[Any],
    *,
    actor: str | None = None,
) -> Call:
    """Replace whatever the live call does now with ``instructions`` (models or their JSON
    form) and return the call.

    ``session`` is the tenant's; it is committed (before the provider is asked and after the
    timeline note). Raises ``ValueError`` (pydantic's) for invalid instructions, and
    problems: 404 no such call, 409 ``calls-call-state-conflict`` unless the call is
    in progress, 409 ``calls-capability-missing`` when the provider cannot redirect or run
    a step, 422 ``calls-provider-refused``, 503 ``calls-provider-unavailable``.
    """
    steps = parse_instructions(instructions)
    call = await service.get_call(session, call_id)
    require_in_progress(call, "redirect")
    require_capabilities(platform, call, needed_capabilities(steps), what="run these instructions")
    ref = service.call_ref(call)
    await session.commit()  # no transaction (or lock) is held while the provider answers
    provider = build_provider(platform, call.tenant_id, call.provider, call_id=call.id)
    with provider_problems(call.provider, unsupported="redirect"):
        await provider.redirect(ref, steps)
    call = await service.get_call(session, call_id, for_update=True)
    service.note(
        session,
        call,
        "redirected",
        source="platform",
        actor=actor,
        steps=[step["kind"] for step in dump_instructions(steps)],
    )
    await session.commit()
    return call
