"""Jobs: per-tenant background work that any worker may run, one worker at a time.

A plugin declares a topic (``kraliki_jobs``) with a handler ``async (platform, tenant_id)``
that does the tenant's due work and returns when it is next due (or None). Code that creates
work calls ``platform.jobs.wake(session, topic, at=...)`` in its transaction. Workers claim
due (topic, tenant) pairs with ``FOR UPDATE SKIP LOCKED`` and a lease; a crashed worker's
lease runs out and another worker takes over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, delete, func, literal, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kernel._db import Database, call_after_commit
from kernel._hooks import Hooks
from kernel._jobs.models import Wakeup
from kernel._metrics import Metrics
from kernel._models import UTCDateTime, utcnow
from kernel._registry import UniqueRegistry
from kernel._settings import Settings
from kernel._tenancy import TenancyError, current_tenant_id, tenant_scope
from kernel._types import PluginDefinitionError

if TYPE_CHECKING:
    from kernel._platform import Platform

logger = logging.getLogger("kraliki.jobs")

TOPIC_NAME = re.compile(r"^[a-z][a-z0-9_-]*\.[a-z][a-z0-9_.-]*$")
FAILURE_BACKOFF = timedelta(seconds=30)
CONCURRENCY = 8

JobHandler = Callable[["Platform", uuid.UUID], Awaitable[datetime | None]]


_WOKEN = "kraliki_jobs_woken"


def _woken_in(session: AsyncSession) -> dict[tuple[str, uuid.UUID], datetime]:
    """What this session's current transaction already woke (topic, tenant -> due), so
    that a second wake-up no later than the first costs no statement (routing wakes its
    job from several places of one change). Empty, and not kept, outside a transaction."""
    root = session.sync_session.get_transaction()
    if root is None:
        return {}
    memo = session.info.get(_WOKEN)
    if memo is None or memo[0] is not root:
        memo = session.info[_WOKEN] = (root, {})
    woken: dict[tuple[str, uuid.UUID], datetime] = memo[1]
    return woken


_WAKE: dict[bool, Any] = {}


def _wake_statement(postgres: bool) -> Any:
    """The upsert that makes a topic due (``topic``, ``tenant_id``, ``due_at`` bound),
    built once per dialect: building it cost more than running it."""
    statement = _WAKE.get(postgres)
    if statement is None:
        insert: Any = (pg_insert if postgres else sqlite_insert)(Wakeup)
        least = func.least if postgres else func.min
        statement = _WAKE[postgres] = insert.values(
            topic=bindparam("topic"),
            tenant_id=bindparam("tenant_id"),
            due_at=bindparam("due_at"),
            version=0,
        ).on_conflict_do_update(
            index_elements=[Wakeup.topic, Wakeup.tenant_id],
            set_={
                "due_at": least(Wakeup.due_at, insert.excluded.due_at),
                "version": Wakeup.version + 1,
            },
        )
    return statement


@dataclass(frozen=True, slots=True)
class JobTopic:
    """Background work a plugin runs per tenant, returned by ``kraliki_jobs``.

    ``handler(platform, tenant_id)`` runs inside the tenant's scope, does what is due and
    returns when it should run next (None: nothing left until the next ``wake``). It must be
    safe to run again after a crash (a lease that ran out hands the job to another worker).
    """

    name: str
    handler: JobHandler = field(compare=False)
    description: str = ""

    def __post_init__(self) -> None:
        if not TOPIC_NAME.match(self.name):
            raise ValueError(f"job topic {self.name!r} must look like '<plugin>.<job>'")


def build_topics(hooks: Hooks) -> UniqueRegistry[JobTopic]:
    topics: UniqueRegistry[JobTopic] = UniqueRegistry("job topic")
    for plugin, declared in hooks.collect_now("kraliki_jobs"):
        for topic in declared or ():
            if topic.name.split(".", 1)[0] != plugin:
                raise PluginDefinitionError(
                    f"plugin {plugin!r} declares job topic {topic.name!r}: topics start "
                    "with the declaring plugin's name"
                )
            topics.register(topic.name, topic, plugin=plugin)
    return topics


@dataclass(frozen=True, slots=True)
class Claim:
    topic: str
    tenant_id: uuid.UUID
    version: int


class Jobs:
    """``platform.jobs``: wake a tenant's job; the workers run it."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        metrics: Metrics,
        topics: UniqueRegistry[JobTopic],
    ) -> None:
        self.settings = settings
        self.database = database
        self.metrics = metrics
        self.topics = topics
        self.postgres = database.dialect == "postgresql"
        self._poke = asyncio.Event()

    async def wake(self, session: AsyncSession, topic: str, *, at: datetime | None = None) -> None:
        """Make ``topic`` due for the current tenant at ``at`` (default now), in the
        caller's transaction; an earlier due time already set stays."""
        if topic not in self.topics:
            raise PluginDefinitionError(f"no plugin declares the job topic {topic!r}")
        tenant = current_tenant_id()
        if tenant is None:
            raise TenancyError("wake a job inside the tenant's scope")
        due = at or utcnow()
        earlier = _woken_in(session).get((topic, tenant))
        if earlier is not None and earlier <= due:
            return  # this transaction already made it due as early, and holds the row
        await session.execute(
            _wake_statement(self.postgres), {"topic": topic, "tenant_id": tenant, "due_at": due}
        )
        if not session.in_nested_transaction():  # a savepoint's write may yet be undone
            _woken_in(session)[(topic, tenant)] = due
        if due <= utcnow() + timedelta(seconds=self.settings.jobs_poll_seconds):
            call_after_commit(session, ("kraliki_jobs", topic), self._poke.set)

    # -- the worker --------------------------------------------------------------------

    async def run(self, platform: Platform) -> None:
        """Run due jobs until cancelled."""
        while True:
            self._poke.clear()  # before looking: a wake-up during the look is not lost
            try:
                ran = await self.run_due(platform)
            except Exception:
                logger.exception("claiming due jobs failed; retrying")
                ran = 0
            if ran:
                continue
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a cancellation
            # that arrives as the event is set, and stop() would wait for this loop forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.jobs_poll_seconds):
                    await self._poke.wait()

    async def run_due(self, platform: Platform, *, limit: int = CONCURRENCY) -> int:
        """Claim and run the due jobs (at most ``limit``); how many ran."""
        claims = await self._claim(limit)
        if claims:
            await asyncio.gather(*(self._run(platform, claim) for claim in claims))
        return len(claims)

    async def _claim(self, limit: int) -> list[Claim]:
        now = utcnow()
        due = (
            select(Wakeup.topic, Wakeup.tenant_id)
            .where(Wakeup.topic.in_(list(self.topics)))
            .where(Wakeup.due_at <= now)
            .where(or_(Wakeup.leased_until.is_(None), Wakeup.leased_until < now))
            .order_by(Wakeup.due_at)
            .limit(limit)
        )
        if self.postgres:
            due = due.with_for_update(skip_locked=True)
        lease = now + timedelta(seconds=self.settings.jobs_lease_seconds)
        async with self.database.session() as session:
            rows = await session.execute(
                update(Wakeup)
                .where(tuple_(Wakeup.topic, Wakeup.tenant_id).in_(due.scalar_subquery()))
                .values(leased_until=lease)
                .returning(Wakeup.topic, Wakeup.tenant_id, Wakeup.version)
                .execution_options(synchronize_session=False)
            )
            claims = [Claim(topic, tenant, version) for topic, tenant, version in rows]
            await session.commit()
        return claims

    async def _run(self, platform: Platform, claim: Claim) -> None:
        topic = self.topics.get(claim.topic)
        try:
            with tenant_scope(claim.tenant_id):
                next_due = await topic.handler(platform, claim.tenant_id)
        except Exception:
            logger.exception("job %s of tenant %s failed", claim.topic, claim.tenant_id)
            self.metrics.jobs_run.labels(claim.topic, "failed").inc()
            next_due = utcnow() + FAILURE_BACKOFF
        else:
            self.metrics.jobs_run.labels(claim.topic, "ok").inc()
        await self._release(claim, next_due)

    async def _release(self, claim: Claim, next_due: datetime | None) -> None:
        key = and_(Wakeup.topic == claim.topic, Wakeup.tenant_id == claim.tenant_id)
        unchanged = Wakeup.version == claim.version
        async with self.database.session() as session:
            if next_due is None:
                gone = await session.execute(
                    delete(Wakeup)
                    .where(key, unchanged)
                    .execution_options(synchronize_session=False)
                )
                if not getattr(gone, "rowcount", 0):
                    # Woken while it ran: leave the new due time for the next round.
                    await session.execute(
                        update(Wakeup)
                        .where(key)
                        .values(leased_until=None)
                        .execution_options(synchronize_session=False)
                    )
            else:
                least = func.least if self.postgres else func.min
                await session.execute(
                    update(Wakeup)
                    .where(key, unchanged)
                    .values(due_at=next_due, leased_until=None)
                    .execution_options(synchronize_session=False)
                )
                await session.execute(
                    update(Wakeup)
                    .where(key, ~unchanged)
                    .values(
                        due_at=least(Wakeup.due_at, literal(next_due, UTCDateTime())),
                        leased_until=None,
                    )
                    .execution_options(synchronize_session=False)
                )
            await session.commit()
