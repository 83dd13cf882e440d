"""``platform.idempotency``: a retried POST with the same key gets the first answer.

A route claims the client's key before acting. The first claim inserts the key as
in progress (the primary key lets exactly one of two concurrent first claims win) and commits
at once, so a concurrent retry sees it and answers 409 with ``Retry-After``. The route stores
its answer with :meth:`IdempotencyClaim.complete` in its own transaction, so the answer is
stored if and only if the work commits; later retries replay it. A route that fails releases
the key, so the client may try again. A worker that dies leaves the key locked for
``idempotency_lock_seconds``, after which a retry takes it over.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import ColumnElement, and_, delete, null, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kernel._db import Database, request_session
from kernel._idempotency.header import HEADER, REPLAYED_HEADER, check_key
from kernel._idempotency.models import MAX_SCOPE_LENGTH, ClaimState, IdempotencyRecord
from kernel._idempotency.problems import KEY_REUSED, REQUEST_IN_PROGRESS
from kernel._models import utcnow
from kernel._principal import Principal
from kernel._problems import ProblemError
from kernel._settings import Settings
from kernel._tenancy import TenancyError, Tenant, current_tenant_id, tenant_scope

logger = logging.getLogger("kraliki.idempotency")

PURGE_INTERVAL_SECONDS = 3600.0
PURGE_BATCH = 1000
_ATTEMPTS = 3  # a claim races a release or a take-over at most this often before giving up

Record = IdempotencyRecord


def fingerprint(request: Any, principal: Principal | None) -> str:
    """sha256 of the request and of its sender, in canonical JSON: the same body sent by
    another caller is a different request."""
    sender = None
    if principal is not None:
        tenant = str(principal.tenant_id) if principal.tenant_id else None
        sender = [principal.kind, principal.subject, tenant]
    canonical = json.dumps(
        {"request": jsonable_encoder(request), "sender": sender},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class _Held:
    """A claim this request holds: the row it may complete or release."""

    tenant_id: uuid.UUID
    scope: str
    key: str
    token: uuid.UUID


class IdempotencyClaim:
    """What ``platform.idempotency.claim(...)`` yields: either the stored answer to replay
    (``replay``), or the right to act once and store the answer (``complete``)."""

    def __init__(
        self,
        service: Idempotency,
        *,
        held: _Held | None = None,
        replay: JSONResponse | None = None,
    ) -> None:
        self._service = service
        self._held = held
        self.replay = replay
        """The first request's answer (its status, JSON body and headers, plus
        ``Idempotent-Replayed: true``): return it as it is. None: do the work."""
        self.completed = False

    async def complete(
        self,
        session: AsyncSession,
        status: int,
        body: Any,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> JSONResponse:
        """Store the answer in ``session``'s transaction, commit it, and return it.

        The answer commits with your work or not at all. ``body`` must be JSON-encodable
        (it is stored as ``jsonable_encoder`` makes it); ``headers`` are stored and replayed
        with it (``Location``, say), nothing else of the response is.
        """
        if self.replay is not None:
            raise RuntimeError("this request is a replay: return claim.replay instead")
        if self.completed:
            raise RuntimeError("this claim is already completed")
        content = jsonable_encoder(body)
        stored = dict(headers or {})
        if self._held is not None:
            await self._service.store(session, self._held, status, content, stored)
        await session.commit()
        self.completed = True
        return JSONResponse(content, status_code=status, headers=stored)


class Idempotency:
    """``platform.idempotency``: ``async with platform.idempotency.claim(key, scope=...,
    request=..., principal=...) as claim``. See :class:`IdempotencyClaim`."""

    def __init__(self, settings: Settings, database: Database) -> None:
        self.settings = settings
        self.database = database
        self.clock: Callable[[], datetime] = utcnow
        """Where "now" comes from (tests move it to expire locks and keys)."""

    @property
    def ttl(self) -> timedelta:
        return timedelta(hours=self.settings.idempotency_ttl_hours)

    @property
    def lock(self) -> timedelta:
        return timedelta(seconds=self.settings.idempotency_lock_seconds)

    @asynccontextmanager
    async def claim(
        self,
        key: str | None,
        *,
        scope: str,
        request: Any,
        principal: Principal | None,
    ) -> AsyncIterator[IdempotencyClaim]:
        """Claim ``key`` for this request inside the block (see the module docstring).

        Args:
            key: the ``Idempotency-Key`` header (``IdempotencyKeyHeader``); None makes the
                claim a no-op: nothing is stored and ``complete`` only commits.
            scope: the operation (``calls.place``); keys are unique per tenant and scope.
            request: what makes two requests the same (the JSON body, path ids).
            principal: the caller; another caller reusing the key gets a 409.

        Raises:
            ProblemError: 400 ``idempotency-key-invalid``, 409 ``idempotency-key-reused``,
                409 ``idempotency-request-in-progress`` (with ``Retry-After``).
        """
        if not 0 < len(scope) <= MAX_SCOPE_LENGTH:
            raise ValueError(f"an idempotency scope has 1 to {MAX_SCOPE_LENGTH} characters")
        if key is None:
            yield IdempotencyClaim(self)
            return
        check_key(key)
        tenant = current_tenant_id()
        if tenant is None:
            raise TenancyError("claim an idempotency key inside the tenant's scope")
        claim = await self._acquire(tenant, scope, key, fingerprint(request, principal))
        held = claim._held
        if held is None:  # a replay: nothing to release
            yield claim
            return
        try:
            yield claim
        except BaseException:
            # Shielded: a cancelled request must still free the key for the client's retry.
            await asyncio.shield(self._abandon(held))
            raise
        if not claim.completed:
            await self._release(held)  # answered without storing: let a retry act

    # -- claiming ----------------------------------------------------------------------

    async def _acquire(
        self, tenant: uuid.UUID, scope: str, key: str, digest: str
    ) -> IdempotencyClaim:
        for _ in range(_ATTEMPTS):
            now = self.clock()
            held = _Held(tenant, scope, key, uuid.uuid4())
            if await self._insert(held, digest, now):
                return IdempotencyClaim(self, held=held)
            async with self.database.session() as session:
                row = await session.scalar(select(Record).where(*_is(scope, key)))
                await session.commit()
            if row is None:
                continue  # released since our insert: try again
            now = self.clock()  # the row may be younger than our first look at the clock
            if _expired(row, now):
                if await self._take(held, digest, now, _expired_at(now)):
                    return IdempotencyClaim(self, held=held)
                continue
            if row.fingerprint != digest:
                raise ProblemError(
                    KEY_REUSED, f"this {HEADER} was already used with a different request"
                )
            if row.state == ClaimState.COMPLETED:
                return IdempotencyClaim(self, replay=_replay(row))
            assert row.locked_until is not None
            if row.locked_until > now:
                raise _in_progress(row.locked_until - now)
            # The holder's lock ran out: it died or hangs. Take over its claim.
            stale = and_(
                Record.state == ClaimState.IN_PROGRESS,
                Record.fingerprint == digest,
                Record.locked_until <= now,
            )
            if await self._take(held, digest, now, stale):
                logger.warning("idempotency key of %s taken over after its lock ran out", scope)
                return IdempotencyClaim(self, held=held)
        raise _in_progress(self.lock)

    async def _insert(self, held: _Held, digest: str, now: datetime) -> bool:
        """Insert the key as in progress; False when it exists (ours lost the race)."""
        insert = (pg_insert if self.database.dialect == "postgresql" else sqlite_insert)(Record)
        async with self.database.session() as session:
            result = await session.execute(
                insert.values(
                    tenant_id=held.tenant_id,
                    scope=held.scope,
                    key=held.key,
                    claim_token=held.token,
                    **self._claimed(digest, now),
                ).on_conflict_do_nothing()
            )
            await session.commit()
        return bool(getattr(result, "rowcount", 0))

    async def _take(
        self, held: _Held, digest: str, now: datetime, condition: ColumnElement[bool]
    ) -> bool:
        """Claim an existing row if ``condition`` still holds (compare and set, so of two
        takers one wins)."""
        async with self.database.session() as session:
            result = await session.execute(
                update(Record)
                .where(*_is(held.scope, held.key), condition)
                .values(
                    claim_token=held.token,
                    response_status=None,
                    response_body=null(),
                    response_headers=null(),
                    **self._claimed(digest, now),
                )
                .execution_options(synchronize_session=False)
            )
            await session.commit()
        return bool(getattr(result, "rowcount", 0))

    def _claimed(self, digest: str, now: datetime) -> dict[str, Any]:
        return {
            "fingerprint": digest,
            "state": ClaimState.IN_PROGRESS.value,
            "locked_until": now + self.lock,
            "created_at": now,
            "expires_at": now + self.ttl,
        }

    # -- finishing ---------------------------------------------------------------------

    async def store(
        self,
        session: AsyncSession,
        held: _Held,
        status: int,
        content: Any,
        headers: dict[str, str],
    ) -> None:
        """Stage the answer in the caller's transaction (``IdempotencyClaim.complete``)."""
        now = self.clock()
        result = await session.execute(
            update(Record)
            .where(
                *_is(held.scope, held.key),
                Record.claim_token == held.token,
                Record.state == ClaimState.IN_PROGRESS,
            )
            .values(
                state=ClaimState.COMPLETED.value,
                locked_until=None,
                response_status=status,
                response_body=content,
                response_headers=headers,
                expires_at=now + self.ttl,
            )
            .execution_options(synchronize_session=False)
        )
        if not getattr(result, "rowcount", 0):
            # The lock ran out and a retry took the key over (or it expired): the work is
            # done and commits, but the key answers with the new holder's result.
            logger.warning(
                "idempotency claim of %s lost before it completed (raise "
                "KRALIKI_IDEMPOTENCY_LOCK_SECONDS above the route's longest run)",
                held.scope,
            )

    async def _abandon(self, held: _Held) -> None:
        """The block raised: drop the request's unfinished work, then the claim."""
        session = request_session()
        if session is not None:
            # It would be rolled back at the end of the request anyway; on SQLite it holds
            # the write lock the release needs now.
            try:
                await session.rollback()
            except Exception:
                logger.exception("rolling back a failed idempotent request failed")
        await self._release(held)

    async def _release(self, held: _Held) -> None:
        """Forget an unfinished claim of ours, so that the client's retry acts."""
        try:
            with tenant_scope(held.tenant_id):
                async with self.database.session() as session:
                    await session.execute(
                        delete(Record)
                        .where(
                            *_is(held.scope, held.key),
                            Record.claim_token == held.token,
                            Record.state == ClaimState.IN_PROGRESS,
                        )
                        .execution_options(synchronize_session=False)
                    )
                    await session.commit()
        except Exception:
            # The lock still runs out, and then a retry takes the key over.
            logger.exception("releasing an idempotency key of %s failed", held.scope)

    # -- retention ---------------------------------------------------------------------

    async def purge_expired(self) -> int:
        """Delete every tenant's expired keys, in batches; how many were deleted."""
        now = self.clock()
        async with self.database.session() as session:
            tenants = list(await session.scalars(select(Tenant.id)))
        total = 0
        for tenant in tenants:
            with tenant_scope(tenant):
                async with self.database.session() as session:
                    while True:
                        batch = (
                            select(Record.scope, Record.key)
                            .where(_expired_at(now))
                            .limit(PURGE_BATCH)
                        )
                        result = await session.execute(
                            delete(Record)
                            .where(tuple_(Record.scope, Record.key).in_(batch))
                            .execution_options(synchronize_session=False)
                        )
                        await session.commit()
                        deleted = int(getattr(result, "rowcount", 0))
                        total += deleted
                        if deleted < PURGE_BATCH:
                            break
        return total

    async def run_purge(self) -> None:
        """Purge expired keys every hour, until cancelled (a background worker)."""
        while True:
            try:
                purged = await self.purge_expired()
                if purged:
                    logger.info("purged %d expired idempotency keys", purged)
            except Exception:
                logger.exception("purging expired idempotency keys failed; retrying later")
            await asyncio.sleep(PURGE_INTERVAL_SECONDS)


def _is(scope: str, key: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    # The tenant comes from the session's scope (ORM criteria, and RLS on PostgreSQL).
    return Record.scope == scope, Record.key == key


def _expired_at(now: datetime) -> ColumnElement[bool]:
    """Past its retention, and not held by a live request."""
    return and_(
        Record.expires_at <= now,
        or_(Record.state == ClaimState.COMPLETED, Record.locked_until <= now),
    )


def _expired(row: IdempotencyRecord, now: datetime) -> bool:
    live_lock = row.locked_until is not None and row.locked_until > now
    return row.expires_at <= now and (row.state == ClaimState.COMPLETED or not live_lock)


def _replay(row: IdempotencyRecord) -> JSONResponse:
    assert row.response_status is not None
    headers = {**(row.response_headers or {}), REPLAYED_HEADER: "true"}
    return JSONResponse(row.response_body, status_code=row.response_status, headers=headers)


def _in_progress(wait: timedelta) -> ProblemError:
    seconds = max(1, math.ceil(wait.total_seconds()))
    return ProblemError(
        REQUEST_IN_PROGRESS,
        f"a request with this {HEADER} is still in progress; retry in {seconds} s",
        headers={"Retry-After": str(seconds)},
    )
