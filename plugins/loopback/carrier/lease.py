"""Which processes carry loopback calls: a lease each carrier renews while it runs calls.

Loopback calls live in the process that placed them, so when that process dies they are
lost. A call's id names its carrier (``LB<instance><call>``), and the carrier keeps a row of
``loopback_carriers`` fresh while it has calls (renewed every third of the lease). Another
process asked about a call it does not run (reconciliation, a hang-up) tells a carrier that
is alive elsewhere (another worker of the deployment: the call is left alone) from one that
is gone (its row missing, deleted at shutdown, or older than the lease: the call is lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import socket
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from kernel import Platform, utcnow
from plugins.loopback.models import CarrierLease

logger = logging.getLogger(__name__)

INSTANCE_LENGTH = 16
"""Hex digits of a carrier's id."""


def carrier_of(provider_call_id: str | None) -> str | None:
    """The instance whose carrier runs this call (None: an id from before carriers were
    named in it)."""
    body = (provider_call_id or "").removeprefix("LB")
    return body[:INSTANCE_LENGTH] if len(body) == INSTANCE_LENGTH + 32 else None


class Lease:
    """This process's carrier lease; one per platform (``LoopbackState.lease``)."""

    def __init__(self, instance: str, lease_seconds: float) -> None:
        self.instance = instance
        self.lease_seconds = lease_seconds
        self._started = utcnow()
        self._renewed: float | None = None
        """``time.monotonic()`` of the last renewal (None: no row written yet)."""
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def interval(self) -> float:
        return self.lease_seconds / 3

    async def hold(self, platform: Platform, running: Callable[[], bool]) -> None:
        """Make sure the lease is fresh and renewed while ``running()`` (calls are live).

        Call it right before starting a call, with no await in between: the renewing task
        looks at ``running`` only after a pause, by when the call is there."""
        async with self._lock:
            keeping = self._task is not None and not self._task.done()
            fresh = self._renewed is not None and time.monotonic() - self._renewed < self.interval
            if not (keeping and fresh):
                await self._renew(platform)
            if self._task is None or self._task.done():
                # A fresh context: the lease is the process's, not the placing request's.
                self._task = asyncio.get_running_loop().create_task(
                    self._keep(platform, running),
                    name=f"loopback-lease-{self.instance}",
                    context=contextvars.Context(),
                )

    async def _keep(self, platform: Platform, running: Callable[[], bool]) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if not running():
                return  # no call to vouch for: the row may go stale
            try:
                await self._renew(platform)
            except Exception:
                logger.exception("renewing the loopback carrier lease %s failed", self.instance)

    async def _renew(self, platform: Platform) -> None:
        now = utcnow()
        postgres = platform.database.dialect == "postgresql"
        insert: Any = (pg_insert if postgres else sqlite_insert)(CarrierLease)
        statement = insert.values(
            instance=self.instance,
            host=socket.gethostname()[:255],
            pid=os.getpid(),
            started_at=self._started,
            seen_at=now,
        ).on_conflict_do_update(index_elements=[CarrierLease.instance], set_={"seen_at": now})
        async with platform.database.session() as session:
            await session.execute(statement)
            await session.commit()
        self._renewed = time.monotonic()

    async def stop_renewing(self) -> None:
        """No more renewals: the row stays until the lease runs out (a crash, in tests)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def release(self, platform: Platform) -> None:
        """This carrier stops (shutdown): its calls are lost to the others at once."""
        await self.stop_renewing()
        if self._renewed is None:
            return  # it never ran a call
        try:
            async with platform.database.session() as session:
                await session.execute(
                    delete(CarrierLease).where(CarrierLease.instance == self.instance)
                )
                await session.commit()
        except Exception:  # the database may be going away too; the lease then runs out
            logger.warning("could not release the loopback carrier lease %s", self.instance)
        self._renewed = None


async def carrier_alive(platform: Platform, instance: str, lease_seconds: float) -> bool:
    """Whether the carrier ``instance`` renewed its lease within ``lease_seconds``."""
    async with platform.database.session() as session:
        seen = await session.scalar(
            select(CarrierLease.seen_at).where(CarrierLease.instance == instance)
        )
    return seen is not None and seen > utcnow() - timedelta(seconds=lease_seconds)
