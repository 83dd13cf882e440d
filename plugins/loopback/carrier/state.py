"""What the loopback carrier keeps per platform (under ``LOOPBACK_STATE``): the calls it
is running in this process, the tasks that run them, its conference rooms and its lease."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import uuid
from collections import OrderedDict
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kernel import Platform, StateKey
from plugins.calls import CallStatus
from plugins.loopback.carrier.conference import Room
from plugins.loopback.carrier.lease import INSTANCE_LENGTH, Lease
from plugins.loopback.config import LoopbackSettings, settings_of

if TYPE_CHECKING:
    from plugins.loopback.carrier.call import CarrierCall

logger = logging.getLogger(__name__)

ENDED_MEMORY = 10_000
"""Ended calls remembered, so that acting on one says "ended" rather than "unknown"."""


@dataclass(frozen=True, slots=True)
class Ended:
    status: CallStatus
    tenant_id: uuid.UUID
    log: tuple[tuple[str, str], ...] = ()


@dataclass
class LoopbackState:
    settings: LoopbackSettings
    instance: str = field(default_factory=lambda: uuid.uuid4().hex[:INSTANCE_LENGTH])
    """This process's carrier (the first part of its calls' ids: ``LB<instance>...``)."""
    lease: Lease = field(init=False)
    calls: dict[str, CarrierCall] = field(default_factory=dict)
    """Live calls by provider call id."""
    ended: OrderedDict[str, Ended] = field(default_factory=OrderedDict)
    """Final status of recently ended calls, oldest first."""
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    rooms: dict[tuple[uuid.UUID, str], Room] = field(default_factory=dict)
    """Conference rooms with members, by (tenant, name) (:mod:`.conference`)."""
    closed: bool = False
    callee_turns: dict[str, int] = field(default_factory=dict)
    """Calls placed so far to each number of the ``callees`` setting."""
    _secret_locks: dict[uuid.UUID, asyncio.Lock] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.lease = Lease(self.instance, self.settings.carrier_lease_seconds)

    def secret_lock(self, tenant_id: uuid.UUID) -> asyncio.Lock:
        """Serializes creating a tenant's signing secret within this process."""
        return self._secret_locks.setdefault(tenant_id, asyncio.Lock())

    def run(self, call: CarrierCall, work: Coroutine[Any, Any, None]) -> None:
        """Run a call in a task of its own, in a fresh context: the carrier is outside the
        platform, so it must not inherit the placing request's tenant or trace."""
        self.calls[call.provider_call_id] = call
        task = asyncio.get_running_loop().create_task(
            work, name=f"loopback-call-{call.provider_call_id}", context=contextvars.Context()
        )
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def finished(self, call: CarrierCall, status: CallStatus) -> None:
        self.calls.pop(call.provider_call_id, None)
        self.ended[call.provider_call_id] = Ended(status, call.context.tenant_id, tuple(call.log))
        while len(self.ended) > ENDED_MEMORY:
            self.ended.popitem(last=False)

    async def close(self) -> None:
        """Stop every running call (no more webhooks: the platform is going away)."""
        self.closed = True
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                try:
                    await task
                except Exception:
                    logger.exception("loopback call task failed while stopping")
        self.tasks.clear()
        self.calls.clear()
        self.rooms.clear()


LOOPBACK_STATE = StateKey[LoopbackState]("loopback.carrier")


def configure(platform: Platform) -> LoopbackState:
    """The carrier of this platform, with the settings ``config.configure`` read."""
    state = LoopbackState(settings=settings_of(platform))
    return LOOPBACK_STATE.set(platform, state)


def loopback_state(platform: Platform) -> LoopbackState:
    return LOOPBACK_STATE.get(platform)
