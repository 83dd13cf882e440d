"""Sending deliveries: the ``webhooks.deliver`` job, one attempt at a time, and the schedule.

Per tenant, a run picks the due deliveries that head their (endpoint, aggregate) queue: no
earlier delivery of that aggregate to that endpoint is still pending or failing. So events of
one aggregate reach a receiver in publication order, even across retries (a dead-lettered
delivery stops holding the queue). Each endpoint's secrets are revealed once per run; its
deliveries go out one after the other, endpoints side by side.

Every attempt is one HTTP request through ``platform.resilience`` (timeout, the breaker of
(tenant, ``webhook-<endpoint id>``), so one failing receiver opens no other endpoint's
circuit); the long retry schedule is ours (``KRALIKI_WEBHOOKS_RETRY_SCHEDULE``).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import aliased

from kernel import (
    CircuitOpenError,
    Platform,
    Principal,
    SecretUnavailableError,
    Tenant,
    TransientError,
    UrlRefusedError,
    check_outbound_url,
    current_tenant_id,
    utcnow,
)
from plugins.webhooks import signing
from plugins.webhooks.config import WebhookSettings
from plugins.webhooks.events import TEST_EVENT_TYPE, DeliveryDead, EndpointDisabled
from plugins.webhooks.models import (
    OPEN_STATUSES,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from plugins.webhooks.service import JOB, PLUGIN, disable, live_secret_versions, settings_of

logger = logging.getLogger("kraliki.webhooks")

EXCERPT_BYTES = 1024
RUN_BUDGET_SECONDS = 120.0
"""A run stops picking new work after this long and asks to run again at once (well within
the job lease, ``KRALIKI_JOBS_LEASE_SECONDS``)."""
CONCURRENT_ENDPOINTS = 8
VAULT_RETRY = timedelta(seconds=60)
BREAKER_FORCED_RECHECK = 60.0
"""Seconds a delivery held by a breaker forced open waits before it looks again."""
HELD_JITTER = 0.2
"""Spread of the wake-up of deliveries held by one open breaker, as a fraction of the wait,
so that they do not all line up behind its trial call at once."""
_random = secrets.SystemRandom()


@dataclass(frozen=True, slots=True)
class EndpointView:
    """What sending needs of an endpoint, detached from any session."""

    id: uuid.UUID
    url: str
    secret_names: tuple[str, ...]
    expired_secret: str | None
    """The previous secret once its grace ended: forgotten on the next run."""

    @classmethod
    def of(cls, endpoint: WebhookEndpoint, now: datetime) -> EndpointView:
        hex_id = endpoint.id.hex
        versions = live_secret_versions(endpoint, now)
        expired = None
        if endpoint.previous_secret_expires_at is not None and len(versions) == 1:
            expired = signing.secret_name(hex_id, endpoint.secret_version - 1)
        return cls(
            id=endpoint.id,
            url=endpoint.url,
            secret_names=tuple(signing.secret_name(hex_id, v) for v in versions),
            expired_secret=expired,
        )

    @property
    def dependency(self) -> str:
        return f"webhook-{self.id.hex}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to."""

    ok: bool
    status_code: int | None
    error: str | None
    excerpt: str
    latency_ms: int
    held_for: float | None = None
    """Not sent because the endpoint's breaker is open: seconds until it lets a trial call
    through. Such a skip is not an attempt (it uses no step of the retry schedule)."""


def next_wait(settings: WebhookSettings, step: int) -> float | None:
    """Seconds to wait after the ``step``-th failed attempt (1-based), jittered; None when
    that was the last attempt."""
    if step > len(settings.retry_schedule):
        return None
    wait = settings.retry_schedule[step - 1]
    jitter = settings.retry_jitter
    return max(0.0, wait * _random.uniform(1 - jitter, 1 + jitter))


# -- the job ----------------------------------------------------------------------------


async def run(platform: Platform, tenant_id: uuid.UUID) -> datetime | None:
    """``webhooks.deliver``: send what is due; when the next delivery is due (or None)."""
    async with platform.database.session() as session:
        disabled = await session.scalar(
            select(Tenant.disabled_plugins).where(Tenant.id == tenant_id)
        )
    if PLUGIN in (disabled or ()):
        return None  # held until the tenant enables webhooks again (it wakes the job)
    settings = settings_of(platform)
    deadline = time.monotonic() + RUN_BUDGET_SECONDS
    while True:
        due = await _due_heads(platform, settings.batch_size)
        if not due:
            break
        progressed = await _send_batch(platform, due)
        if time.monotonic() > deadline:
            return utcnow()
        if not progressed:
            break  # what failed is rescheduled; successes may have freed the next in line
    return await _next_due(platform)


def _heads() -> Any:
    """Deliveries of enabled endpoints, open, with no earlier open one in their queue."""
    earlier = aliased(WebhookDelivery)
    blocked = exists().where(
        earlier.tenant_id == WebhookDelivery.tenant_id,
        earlier.endpoint_id == WebhookDelivery.endpoint_id,
        earlier.aggregate == WebhookDelivery.aggregate,
        earlier.status.in_(OPEN_STATUSES),
        earlier.sequence < WebhookDelivery.sequence,
    )
    return and_(
        WebhookEndpoint.enabled.is_(True),
        WebhookDelivery.status.in_(OPEN_STATUSES),
        ~blocked,
    )


def _join() -> Any:
    return and_(
        WebhookEndpoint.tenant_id == WebhookDelivery.tenant_id,
        WebhookEndpoint.id == WebhookDelivery.endpoint_id,
    )


async def _due_heads(platform: Platform, limit: int) -> list[tuple[EndpointView, uuid.UUID]]:
    now = utcnow()
    async with platform.database.session() as session:
        rows = await session.execute(
            select(WebhookEndpoint, WebhookDelivery.id)
            .join(WebhookDelivery, _join())
            .where(_heads(), WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.sequence)
            .limit(limit)
        )
        return [(EndpointView.of(endpoint, now), delivery_id) for endpoint, delivery_id in rows]


async def _next_due(platform: Platform) -> datetime | None:
    async with platform.database.session() as session:
        due: datetime | None = await session.scalar(
            select(func.min(WebhookDelivery.next_attempt_at))
            .select_from(WebhookDelivery)
            .join(WebhookEndpoint, _join())
            .where(_heads())
        )
    return due


async def _send_batch(platform: Platform, due: list[tuple[EndpointView, uuid.UUID]]) -> bool:
    """Send each endpoint's share in order, endpoints concurrently; True when any succeeded."""
    by_endpoint: dict[uuid.UUID, tuple[EndpointView, list[uuid.UUID]]] = {}
    for endpoint, delivery_id in due:
        by_endpoint.setdefault(endpoint.id, (endpoint, []))[1].append(delivery_id)
    # SQLite has one writer at a time: endpoints take turns there.
    postgres = platform.database.dialect == "postgresql"
    gate = asyncio.Semaphore(CONCURRENT_ENDPOINTS if postgres else 1)

    async def one(endpoint: EndpointView, deliveries: list[uuid.UUID]) -> bool:
        async with gate:
            return await _send_endpoint(platform, endpoint, deliveries)

    results = await asyncio.gather(*(one(e, ids) for e, ids in by_endpoint.values()))
    return any(results)


async def _send_endpoint(
    platform: Platform, endpoint: EndpointView, deliveries: list[uuid.UUID]
) -> bool:
    try:
        keys = await reveal_secrets(platform, endpoint, job=JOB)
    except SecretUnavailableError:
        logger.error("webhook endpoint %s: signing secret unavailable; retrying", endpoint.id)
        await _postpone(platform, deliveries, VAULT_RETRY)
        return False
    if endpoint.expired_secret is not None:
        await _forget_expired(platform, endpoint)
    succeeded = False
    for delivery_id in deliveries:
        outcome = await attempt(platform, endpoint, delivery_id, keys)
        succeeded = succeeded or bool(outcome and outcome.ok)
    return succeeded


async def reveal_secrets(
    platform: Platform,
    endpoint: EndpointView,
    *,
    job: str | None = None,
    principal: Principal | None = None,
) -> list[str]:
    """The endpoint's live secrets (each decryption is on the tenant's vault access log)."""
    tenant = current_tenant_id()
    values: list[str] = []
    for name in endpoint.secret_names:
        value = await platform.vault.reveal(
            name,
            plugin=PLUGIN,
            purpose="sign webhook deliveries",
            job=job,
            principal=principal,
            tenant_id=tenant,
        )
        if value is not None:
            values.append(value.reveal())
    if not values:
        raise SecretUnavailableError(f"webhook endpoint {endpoint.id} has no signing secret")
    return values


async def _forget_expired(platform: Platform, endpoint: EndpointView) -> None:
    assert endpoint.expired_secret is not None
    async with platform.database.session() as session:
        row = await session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint.id))
        if row is None or row.previous_secret_expires_at is None:
            return
        if row.previous_secret_expires_at > utcnow():
            return
        await platform.vault.forget(session, endpoint.expired_secret, plugin=PLUGIN)
        row.previous_secret_expires_at = None
        await session.commit()


async def _postpone(platform: Platform, deliveries: list[uuid.UUID], wait: timedelta) -> None:
    async with platform.database.session() as session:
        rows = await session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.id.in_(deliveries))
        )
        for row in rows:
            row.next_attempt_at = utcnow() + wait
        await session.commit()


# -- one attempt -------------------------------------------------------------------------


async def attempt(
    platform: Platform, endpoint: EndpointView, delivery_id: uuid.UUID, keys: list[str]
) -> Outcome | None:
    """Send the delivery once and record how it went (None: it was no longer open)."""
    async with platform.database.session() as session:
        delivery = await session.scalar(
            select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
        )
        if delivery is None or delivery.status not in OPEN_STATUSES:
            return None
        envelope = delivery.envelope
        message_id = str(delivery.event_id)
    started = utcnow()
    outcome = await send(platform, endpoint, message_id=message_id, envelope=envelope, keys=keys)
    await _record(platform, endpoint, delivery_id, started, outcome)
    return outcome


async def send(
    platform: Platform,
    endpoint: EndpointView,
    *,
    message_id: str,
    envelope: dict[str, Any],
    keys: list[str],
) -> Outcome:
    """One signed POST to the endpoint (its URL checked again first: DNS may have changed)."""
    settings = settings_of(platform)
    clock = time.monotonic()

    def done(ok: bool, status: int | None, error: str | None, excerpt: str = "") -> Outcome:
        latency = int((time.monotonic() - clock) * 1000)
        return Outcome(ok, status, error, excerpt, latency)

    try:
        target = await check_outbound_url(endpoint.url, settings.policy)
    except UrlRefusedError as exc:
        return done(False, None, f"refused: {exc}")
    body = signing.body_of(envelope)
    headers = signing.headers(message_id=message_id, timestamp=utcnow(), body=body, secrets=keys)
    headers["host"] = target.host_header
    answer: dict[str, Any] = {}
    http = platform.resilience.http

    async def post() -> int:
        request = http.build_request(
            "POST",
            target.url,
            content=body.encode(),
            headers=headers,
            extensions=target.extensions(),
            timeout=settings.timeout_seconds,
        )
        response = await http.send(request, stream=True)
        try:
            answer["excerpt"] = await _excerpt(response)
        finally:
            await response.aclose()
        status = answer["status"] = response.status_code
        if status >= 500 or status in (408, 429):
            # Counts against the endpoint's breaker; other answers say it is up.
            raise TransientError(endpoint.dependency, f"webhook answered {status}", status=status)
        return status

    try:
        status = await platform.resilience.call(
            endpoint.dependency,
            post,
            timeout=settings.timeout_seconds,
            attempts=1,  # the retry schedule is ours
        )
    except CircuitOpenError as exc:
        outcome = done(False, None, "not sent: the endpoint's circuit breaker is open")
        # Forced open by an administrator: no known end, look again in a while.
        wait = BREAKER_FORCED_RECHECK if exc.retry_after is None else exc.retry_after
        return replace(outcome, held_for=wait)
    except TransientError as exc:
        if "status" in answer:
            return done(False, answer["status"], None, answer.get("excerpt", ""))
        reason = "timed out" if exc.timed_out else "could not connect"
        return done(False, None, reason)
    return done(200 <= status < 300, status, None, answer.get("excerpt", ""))


async def _excerpt(response: httpx.Response) -> str:
    data = b""
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= EXCERPT_BYTES:
            break
    return data[:EXCERPT_BYTES].decode("utf-8", "replace").replace("\x00", "")


async def _record(
    platform: Platform,
    endpoint_view: EndpointView,
    delivery_id: uuid.UUID,
    started: datetime,
    outcome: Outcome,
) -> None:
    """The attempt, the delivery's new state and the endpoint's health, in one transaction;
    dead-lettering and disabling publish their events in it too."""
    settings = settings_of(platform)
    async with platform.database.session() as session:
        delivery = await session.scalar(
            select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update()
        )
        endpoint = await session.scalar(
            select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_view.id).with_for_update()
        )
        if delivery is None or endpoint is None:
            return  # deleted meanwhile
        now = utcnow()
        test = delivery.event_type == TEST_EVENT_TYPE
        if outcome.held_for is not None and not test:
            _hold(delivery, outcome, now)
            await session.commit()
            return
        delivery.attempt_count += 1
        delivery.schedule_step += 1
        session.add(
            WebhookAttempt(
                id=uuid.uuid4(),
                delivery_id=delivery.id,
                number=delivery.attempt_count,
                attempted_at=started,
                status_code=outcome.status_code,
                error=outcome.error,
                latency_ms=outcome.latency_ms,
                response_excerpt=outcome.excerpt,
            )
        )
        delivery.last_attempt_at = started
        delivery.last_status_code = outcome.status_code
        delivery.last_error = outcome.error
        delivery.updated_at = now
        if outcome.ok:
            delivery.status = DeliveryStatus.SUCCEEDED.value
            delivery.next_attempt_at = None
            delivery.finished_at = now
            endpoint.consecutive_failures = 0
            endpoint.consecutive_dead = 0
            endpoint.failing_since = None
            endpoint.last_success_at = now
            await session.commit()
            return
        wait = None if test else next_wait(settings, delivery.schedule_step)
        if wait is None:
            delivery.status = DeliveryStatus.DEAD.value
            delivery.next_attempt_at = None
            delivery.finished_at = now
        else:
            delivery.status = DeliveryStatus.FAILED.value
            delivery.next_attempt_at = now + timedelta(seconds=wait)
        if not test:  # a test tells the tenant about its receiver; it judges nothing
            endpoint.consecutive_failures += 1
            endpoint.failing_since = endpoint.failing_since or started
            if wait is None:
                endpoint.consecutive_dead += 1
                await platform.events.publish(
                    session,
                    DeliveryDead(
                        endpoint_id=endpoint.id,
                        delivery_id=delivery.id,
                        event_id=delivery.event_id,
                        event_type=delivery.event_type,
                        attempts=delivery.attempt_count,
                    ),
                )
            reason = _disable_reason(endpoint, settings, now)
            if reason is not None and endpoint.enabled:
                disable(endpoint, reason)
                await platform.events.publish(
                    session,
                    EndpointDisabled(
                        endpoint_id=endpoint.id,
                        reason=reason,
                        consecutive_failures=endpoint.consecutive_failures,
                    ),
                )
                logger.warning("webhook endpoint %s disabled: %s", endpoint.id, reason)
        await session.commit()


def _hold(delivery: WebhookDelivery, outcome: Outcome, now: datetime) -> None:
    """A delivery its endpoint's open breaker kept back: no attempt is recorded and no step
    of its schedule is used, so a receiver that comes back still gets it; it is looked at
    again when the breaker lets a trial call through."""
    assert outcome.held_for is not None
    wait = outcome.held_for * _random.uniform(1, 1 + HELD_JITTER)
    delivery.next_attempt_at = now + timedelta(seconds=max(wait, 0.05))
    delivery.last_error = outcome.error
    delivery.updated_at = now


def _disable_reason(
    endpoint: WebhookEndpoint, settings: WebhookSettings, now: datetime
) -> str | None:
    if endpoint.consecutive_dead >= settings.disable_after_dead:
        return (
            f"{endpoint.consecutive_dead} deliveries in a row failed every attempt (dead-lettered)"
        )
    failing_for = timedelta(hours=settings.disable_after_hours)
    if endpoint.failing_since is not None and now - endpoint.failing_since >= failing_for:
        return f"every attempt failed for more than {settings.disable_after_hours:g} hours"
    return None


# -- test sends ----------------------------------------------------------------------------


async def send_test(
    platform: Platform, endpoint_id: uuid.UUID, *, principal: Principal | None = None
) -> uuid.UUID:
    """Send a ``webhooks.endpoint.test`` envelope now, through the same signed path, and
    record it as a delivery (one attempt, never retried); returns the delivery's id."""
    tenant = current_tenant_id()
    assert tenant is not None
    now = utcnow()
    async with platform.database.session() as session:
        endpoint = await session.scalar(
            select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
        )
        if endpoint is None:
            raise LookupError(str(endpoint_id))
        view = EndpointView.of(endpoint, now)
    keys = await reveal_secrets(platform, view, principal=principal)  # before our writes
    delivery_id, event_id = uuid.uuid4(), uuid.uuid4()
    envelope = {
        "id": str(event_id),
        "type": TEST_EVENT_TYPE,
        "version": 1,
        "tenant_id": str(tenant),
        "occurred_at": now.isoformat().replace("+00:00", "Z"),
        "aggregate": f"webhooks.endpoint:{endpoint_id}",
        "position": None,
        "data": {"endpoint_id": str(endpoint_id), "message": "Test delivery from Kraliki."},
    }
    async with platform.database.session() as session:
        session.add(
            WebhookDelivery(
                id=delivery_id,
                endpoint_id=endpoint_id,
                event_id=event_id,
                event_type=TEST_EVENT_TYPE,
                aggregate=f"webhooks.test:{delivery_id}",  # a queue of its own
                sequence=0,
                envelope=envelope,
                status=DeliveryStatus.PENDING.value,
                attempt_count=0,
                schedule_step=0,
                next_attempt_at=None,
                created_at=now,
                updated_at=now,
            )
        )
        await session.commit()
    await attempt(platform, view, delivery_id, keys)
    return delivery_id
