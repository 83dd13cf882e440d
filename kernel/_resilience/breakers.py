"""Circuit breakers per (tenant, dependency), with administrators' overrides on top.

The state machine is purgatory's (closed -> opened after ``threshold`` consecutive failures,
half-opened once ``reset_seconds`` have passed, closed again on a success). Keying by tenant
means one tenant's revoked API key opens its own circuit and nobody else's. State lives in
this worker's memory (docs/adr/0012-circuit-breaker-state-per-worker.md), or in Redis when
``KRALIKI_REDIS_URL`` is set, overrides and the list of breakers included, so every worker
and host sees the same breaker (docs/adr/0032-shared-state-through-redis.md); while Redis is
away each worker falls back to its own.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast

from purgatory import (
    AsyncCircuitBreakerFactory,
    CircuitBreakerFailed,
    CircuitBreakerRecovered,
    ContextChanged,
)
from purgatory.domain.model import ClosedState, Context, OpenedState
from purgatory.service._async.circuitbreaker import AsyncCircuitBreaker
from purgatory.service._async.repository import AsyncRedisRepository
from purgatory.service._async.unit_of_work import AsyncAbstractUnitOfWork

from kernel._metrics import BREAKER_STATE_VALUES, Metrics
from kernel._resilience.errors import CircuitOpenError
from kernel._shared.store import REDIS_ERRORS, SharedStore

logger = logging.getLogger("kraliki.resilience")

BreakerState = Literal["closed", "open", "half_open", "forced_open", "forced_closed"]
Override = Literal["forced_open", "forced_closed"]
BreakerKey = tuple[uuid.UUID | None, str]

DEPENDENCY_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
"""Dependency names end up in URLs, metric labels and logs: keep them plain."""

_FROM_PURGATORY: dict[str, BreakerState] = {
    "closed": "closed",
    "opened": "open",
    "half-opened": "half_open",
}
# The gauge has three values; an override reads as the state it imposes.
_GAUGE_STATE: dict[BreakerState, str] = {
    "closed": "closed",
    "forced_closed": "closed",
    "half_open": "half-opened",
    "open": "opened",
    "forced_open": "opened",
}


def check_dependency_name(dependency: str) -> None:
    if not DEPENDENCY_NAME.match(dependency):
        raise ValueError(
            f"dependency name {dependency!r} must match {DEPENDENCY_NAME.pattern} "
            "(it is used in URLs, metrics and logs)"
        )


@dataclass(frozen=True, slots=True)
class Forcing:
    """An administrator's override: who imposed it and when."""

    state: Override
    actor: str
    actor_kind: str
    at: datetime


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    """One breaker as the admin API shows it."""

    tenant_id: uuid.UUID | None
    dependency: str
    state: BreakerState
    failure_count: int
    threshold: int
    reset_seconds: float
    opened_at: datetime | None
    half_open_at: datetime | None
    forcing: Forcing | None


class _SharedRepository(AsyncRedisRepository):
    """purgatory's Redis repository on the platform's client and under its key prefix
    (purgatory's own opens a second client on a fixed ``cbr::`` prefix)."""

    def __init__(self, store: SharedStore) -> None:
        self.redis = store.redis
        self.messages = []
        self.prefix = store.key("breaker", "")
        self.listing = store.key("breakers")

    async def initialize(self) -> None:
        """The client connects on first use."""

    async def register(self, context: Context) -> None:
        """Store a new breaker, and list it for the admin API of every worker."""
        await super().register(context)
        await self.redis.sadd(self.listing, context.name)


class _SharedUnitOfWork(AsyncAbstractUnitOfWork):
    def __init__(self, store: SharedStore) -> None:
        self.contexts = _SharedRepository(store)

    async def commit(self) -> None:
        """Each write is applied as it is made, as in purgatory's Redis unit of work."""

    async def rollback(self) -> None:
        """Nothing to undo."""


class Guard:
    """One attempt's passage through a breaker: report how it went exactly once.

    A rejected answer or an unexpected error is reported as nothing at all: it says nothing
    about whether the dependency is up, so it neither counts as a failure nor closes the
    circuit. That third outcome is why the context is driven by hand: purgatory's own context
    manager knows only failure and success (its ``exclude`` list counts as a success).
    """

    def __init__(self, breakers: Breakers, breaker: AsyncCircuitBreaker | None) -> None:
        self._breakers = breakers
        self._breaker = breaker

    async def succeeded(self) -> None:
        if self._breaker is not None:
            self._breaker.context.handle_end_request()
            await self._breakers.flush(self._breaker)

    async def failed(self, exc: BaseException) -> None:
        if self._breaker is not None:
            self._breaker.context.handle_exception(exc)
            await self._breakers.flush(self._breaker)


class Breakers:
    """Every breaker of one platform (one worker), created on first use."""

    def __init__(
        self,
        *,
        threshold: int,
        reset_seconds: float,
        metrics: Metrics,
        shared: SharedStore | None = None,
    ) -> None:
        self.threshold = threshold
        self.reset_seconds = reset_seconds
        self._metrics = metrics
        self._factory = AsyncCircuitBreakerFactory(
            default_threshold=threshold, default_ttl=reset_seconds
        )
        self._factory.add_listener(self._on_event)
        self._keys: dict[str, BreakerKey] = {}
        self._underlying: dict[BreakerKey, BreakerState] = {}
        self._shown: dict[BreakerKey, BreakerState] = {}
        # Consecutive failures as purgatory reported them (its open state forgets the count).
        self._failures: dict[BreakerKey, int] = {}
        self._forcings: dict[BreakerKey, Forcing] = {}
        self._shared = shared
        self._shared_factory: AsyncCircuitBreakerFactory | None = None
        if shared is not None:
            self._shared_factory = AsyncCircuitBreakerFactory(
                default_threshold=threshold,
                default_ttl=reset_seconds,
                uow=_SharedUnitOfWork(shared),
            )
            self._shared_factory.add_listener(self._on_event)

    @staticmethod
    def circuit_name(key: BreakerKey) -> str:
        tenant_id, dependency = key
        return f"{tenant_id or 'platform'}:{dependency}"

    @staticmethod
    def parse_circuit_name(name: str) -> BreakerKey | None:
        tenant, _, dependency = name.partition(":")
        try:
            tenant_id = None if tenant == "platform" else uuid.UUID(tenant)
        except ValueError:
            return None
        return (tenant_id, dependency) if DEPENDENCY_NAME.match(dependency) else None

    async def known(self, key: BreakerKey) -> bool:
        return key in await self._all_keys()

    async def keys(self, tenant_id: uuid.UUID | Literal["all"] | None = "all") -> list[BreakerKey]:
        keys = sorted(await self._all_keys(), key=lambda k: (str(k[0] or ""), k[1]))
        return keys if tenant_id == "all" else [k for k in keys if k[0] == tenant_id]

    async def _all_keys(self) -> set[BreakerKey]:
        local = set(self._underlying)
        if self._shared is None:
            return local
        store = self._shared

        async def load() -> set[str]:
            return cast(set[str], await store.redis.smembers(store.key("breakers")))

        names = await store.run_async("breaker", load, _no_names)
        shared = {key for key in map(self.parse_circuit_name, names) if key is not None}
        return shared | local

    async def _breaker(self, key: BreakerKey) -> AsyncCircuitBreaker:
        name = self.circuit_name(key)
        if name not in self._keys:
            self._keys[name] = key
            self._underlying[key] = self._shown[key] = "closed"
            self._publish_gauge(key, "closed")
        if self._shared is not None:
            shared = self._shared_factory
            assert shared is not None
            return await self._shared.run_async(
                "breaker", lambda: shared.get_breaker(name), lambda: self._factory.get_breaker(name)
            )
        return await self._factory.get_breaker(name)

    async def _forcing(self, key: BreakerKey) -> Forcing | None:
        if self._shared is None:
            return self._forcings.get(key)
        store = self._shared

        async def load() -> Forcing | None:
            fields = await store.redis.hgetall(self._forcing_key(key))
            return _forcing_from(cast(dict[str, str], fields))

        return await store.run_async("breaker", load, lambda: _local(self._forcings.get(key)))

    def _forcing_key(self, key: BreakerKey) -> str:
        assert self._shared is not None
        return self._shared.key("breaker-forced", self.circuit_name(key))

    async def enter(self, tenant_id: uuid.UUID | None, dependency: str) -> Guard:
        """Admit one attempt, or raise :class:`CircuitOpenError` without calling anyone."""
        key = (tenant_id, dependency)
        forcing = await self._forcing(key)
        if forcing is not None:
            if forcing.state == "forced_open":
                raise CircuitOpenError(dependency, forced=True)
            return Guard(self, None)  # forced closed: calls go through and are not counted
        breaker = await self._breaker(key)
        try:
            breaker.context.handle_new_request()
        except OpenedState as opened:
            wait = opened.opened_at + breaker.context.ttl - time.time()  # purgatory's clock
            raise CircuitOpenError(dependency, retry_after=max(wait, 0.0)) from None
        await self.flush(breaker)  # opened -> half-opened happens on the way in
        return Guard(self, breaker)

    async def flush(self, breaker: AsyncCircuitBreaker) -> None:
        """Hand the context's pending events to purgatory's bus (its repository and our
        listener), as its own context manager does on exit."""
        context = breaker.context
        try:
            while context.messages:
                await breaker.messagebus.handle(context.messages.pop(0), breaker.uow)
        except REDIS_ERRORS as exc:  # only the shared unit of work raises these
            context.messages.clear()
            if self._shared is None:
                raise
            self._shared.failed("breaker", exc)

    async def reset(self, key: BreakerKey) -> None:
        """Back to closed with no failures, dropping any override."""
        self._forcings.pop(key, None)
        if self._shared is not None:
            store = self._shared
            await store.run_async(
                "breaker", lambda: store.redis.delete(self._forcing_key(key)), _nothing
            )
        breaker = await self._breaker(key)
        breaker.context.recover_failure()
        breaker.context.set_state(ClosedState())
        await self.flush(breaker)
        self._publish(key, None)

    async def force(self, key: BreakerKey, state: Override, *, actor: str, actor_kind: str) -> None:
        """Impose ``state`` until the next reset (or the opposite override)."""
        await self._breaker(key)
        forcing = self._forcings[key] = Forcing(state, actor, actor_kind, datetime.now(UTC))
        if self._shared is not None:
            store = self._shared
            mapping: dict[str | bytes | bytearray | memoryview[int] | int | float, Any] = {
                "state": state,
                "actor": actor,
                "actor_kind": actor_kind,
                "at": forcing.at.isoformat(),
            }
            await store.run_async(
                "breaker",
                lambda: store.redis.hset(self._forcing_key(key), mapping=mapping),
                _nothing,
            )
        self._publish(key, forcing)

    async def snapshot(self, key: BreakerKey) -> BreakerSnapshot:
        forcing = await self._forcing(key)
        context = (await self._breaker(key)).context
        opened = context.opened_at if context.state == "opened" else None
        if self._shared is None:
            state, failures = self._shown[key], self._failures.get(key, 0)
        else:  # as Redis has it, whichever worker changed it
            state = forcing.state if forcing else _FROM_PURGATORY.get(context.state, "closed")
            failures = context.failure_count or 0
        return BreakerSnapshot(
            tenant_id=key[0],
            dependency=key[1],
            state=state,
            failure_count=failures,
            threshold=context.threshold,
            reset_seconds=context.ttl,
            opened_at=_utc(opened),
            half_open_at=_utc(opened + context.ttl if opened is not None else None),
            forcing=forcing,
        )

    def _on_event(self, name: str, kind: str, event: Any) -> None:
        key = self._keys.get(name)
        if key is None:
            return
        if isinstance(event, CircuitBreakerFailed):
            self._failures[key] = event.failure_count
        elif isinstance(event, CircuitBreakerRecovered):
            self._failures[key] = 0
        elif isinstance(event, ContextChanged):
            self._underlying[key] = _FROM_PURGATORY.get(event.state, "closed")
            self._publish(key, self._forcings.get(key))

    def _publish(self, key: BreakerKey, forcing: Forcing | None) -> None:
        """Log and count a change of the state people see (override or underlying), as this
        worker saw it."""
        new = forcing.state if forcing is not None else self._underlying[key]
        old = self._shown.get(key, "closed")
        self._publish_gauge(key, new)
        if new == old:
            return
        self._shown[key] = new
        tenant_id, dependency = key
        self._metrics.breaker_transitions.labels(dependency, new).inc()
        level = logging.WARNING if new in ("open", "forced_open") else logging.INFO
        logger.log(
            level,
            "circuit breaker %s for tenant %s: %s -> %s",
            dependency,
            tenant_id or "platform",
            old,
            new,
            extra={
                "event": "breaker_state_changed",
                "tenant_id": str(tenant_id) if tenant_id else None,
                "dependency": dependency,
                "old_state": old,
                "new_state": new,
            },
        )

    def _publish_gauge(self, key: BreakerKey, state: BreakerState) -> None:
        tenant_id, dependency = key
        self._metrics.breaker_state.labels(str(tenant_id or "platform"), dependency).set(
            BREAKER_STATE_VALUES[_GAUGE_STATE[state]]
        )


def _utc(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp is not None else None


def _forcing_from(fields: dict[str, str]) -> Forcing | None:
    state = fields.get("state")
    if state not in ("forced_open", "forced_closed"):
        return None
    return Forcing(
        cast(Override, state),
        fields.get("actor", ""),
        fields.get("actor_kind", ""),
        datetime.fromisoformat(fields.get("at") or datetime.now(UTC).isoformat()),
    )


async def _local(forcing: Forcing | None) -> Forcing | None:
    return forcing


async def _no_names() -> set[str]:
    return set()


async def _nothing() -> None:
    return None
