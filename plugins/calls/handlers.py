"""Call handlers: the public API a plugin implements to drive calls (the IVR does; queues and
campaigns will), contributed through the ``kraliki_call_handlers`` hook.

``calls`` owns the call and its provider; a handler owns what the call *does*. A call gets a
handler when a phone number routes to it (inbound, ``route`` = the handler's name) or when it
is placed with one (outbound, ``flow_id`` for the IVR). From then on ``calls`` asks the handler
for instructions at every turn: the call starts (answered or arrived), a gather / record / pay
step ends, a dial that reports its outcome ends; and tells it once when the call ends. The
handler answers with provider-neutral instructions (:mod:`plugins.calls.provider`) that the
call's provider executes.

Each turn runs inside the webhook's transaction, under a savepoint: a handler that raises
changes nothing it wrote, and the caller hears an apology instead of dead air.
"""

from __future__ import annotations

import abc
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform
from plugins.calls.provider import CallStatus, Capability, Direction, PaymentCapture

TurnReason = Literal["start", "input", "ended"]


@dataclass(frozen=True, slots=True)
class HandledCall:
    """The call as a handler sees it."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    direction: Direction
    status: CallStatus
    from_number: str
    to_number: str
    provider: str
    target: str | None
    """What the handler was given with the call (the IVR: the flow id)."""
    capabilities: frozenset[Capability]
    """What the call's provider can do."""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CallInput:
    """How the step the call waited on ended (a gather, a record, a pay step, a dial that
    reports its outcome)."""

    digits: str | None = None
    speech: str | None = None
    confidence: float | None = None
    dial_status: CallStatus | None = None
    """A :class:`~plugins.calls.provider.Dial` with ``report_outcome`` ended: ``completed``
    (answered), ``busy``, ``no-answer``, ``failed`` or ``canceled``."""
    payment: PaymentCapture | None = None
    """A :class:`~plugins.calls.provider.Pay` step ended: how (never card data)."""


@dataclass
class CallTurn:
    """One moment the handler decides about, inside the webhook's transaction."""

    platform: Platform
    session: AsyncSession
    call: HandledCall
    reason: TurnReason
    input: CallInput = field(default_factory=CallInput)
    timeline: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def note(self, kind: str, **detail: Any) -> None:
        """Add an entry to the call's timeline (``kind`` up to 32 characters), written with
        the turn's other changes."""
        self.timeline.append((kind, detail))


class CallHandler(abc.ABC):
    """What drives calls routed to it. One object serves every tenant: keep no per-call
    state on it (persist it in your own tenant-owned tables, so any worker can take the next
    turn)."""

    name: str
    """Lower case; a phone number's ``route`` value."""

    async def check_target(self, session: AsyncSession, target: str) -> str | None:
        """Why ``target`` cannot be routed to (a message), or None when it can. Called when a
        number or a call is pointed at the handler, in the tenant's session."""
        return None

    @abc.abstractmethod
    async def start(self, turn: CallTurn) -> Sequence[Any]:
        """The call was answered (outbound) or arrived (inbound): the first instructions."""

    @abc.abstractmethod
    async def resume(self, turn: CallTurn) -> Sequence[Any] | None:
        """The step the call waited on ended (``turn.input``): what next. None: nothing to
        add (the provider goes on with what it has)."""

    async def ended(self, turn: CallTurn) -> None:  # noqa: B027 (optional)
        """The call ended (``turn.call.status`` is terminal); called once."""


@dataclass(frozen=True, slots=True)
class HandlerSpec:
    """A handler a plugin contributes through ``kraliki_call_handlers``."""

    handler: CallHandler
    description: str = ""


async def routed_numbers(session: AsyncSession, route: str, target: str) -> list[str]:
    """The organization's numbers whose calls go to handler ``route`` with ``target``."""
    from sqlalchemy import select

    from plugins.calls.models import PhoneNumber

    rows = await session.scalars(select(PhoneNumber).where(PhoneNumber.route == route))
    return sorted(n.number for n in rows if str(n.ivr_flow_id) == target)


async def target_providers(
    platform: Platform, session: AsyncSession, route: str, target: str
) -> dict[str, frozenset[Capability]]:
    """The providers a handler target's calls can run on, with what each can do: those of
    the numbers routed to it, and the organization's primary and secondary providers
    (outbound calls placed with it)."""
    from sqlalchemy import select

    from plugins.calls.models import PhoneNumber
    from plugins.calls.registry import calls_state
    from plugins.calls.service import call_settings

    state = calls_state(platform)
    numbers = await session.scalars(select(PhoneNumber).where(PhoneNumber.route == route))
    names = {n.provider for n in numbers if str(n.ivr_flow_id) == target}
    settings = await call_settings(session)
    names.add(settings.primary_provider or state.settings.default_provider)
    if settings.secondary_provider:
        names.add(settings.secondary_provider)
    return {
        name: state.providers.get(name).capabilities for name in names if name in state.providers
    }
