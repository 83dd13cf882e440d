"""Endpoints and deliveries: the logic behind the routes and the event hook (no HTTP).

Functions take an explicit session and keyword arguments; the caller commits (and records
the audit line in the same transaction).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import (
    DeliveredEvent,
    Platform,
    Principal,
    StateKey,
    check_outbound_url,
    event_pattern,
    matches_event,
    utcnow,
)
from plugins.webhooks import signing
from plugins.webhooks.config import WebhookSettings
from plugins.webhooks.events import about_endpoint
from plugins.webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

PLUGIN = "webhooks"
JOB = "webhooks.deliver"


class EndpointNotFoundError(LookupError):
    pass


class DeliveryNotFoundError(LookupError):
    pass


class EndpointDisabledError(RuntimeError):
    pass


class TooManyEndpointsError(RuntimeError):
    pass


class EventsNotPermittedError(PermissionError):
    def __init__(self, events: list[str]) -> None:
        self.events = events
        super().__init__(f"{len(events)} event type(s) need permissions the caller lacks")


class UnknownEventTypeError(ValueError):
    def __init__(self, patterns: list[str]) -> None:
        self.patterns = patterns
        super().__init__(f"{len(patterns)} pattern(s) match no published event type")


SETTINGS = StateKey[WebhookSettings](PLUGIN)
"""The operator settings of the webhooks plugin on a platform."""


def settings_of(platform: Platform) -> WebhookSettings:
    """The operator settings this platform read at start (``kraliki_configure``)."""
    return SETTINGS.get(platform)


# -- endpoints ------------------------------------------------------------------------


def check_patterns(
    platform: Platform, patterns: Sequence[str], principal: Principal | None = None
) -> list[str]:
    """Patterns, de-duplicated in order; each must match at least one declared event type
    (a typo would otherwise subscribe to nothing, silently), and the ``principal`` saving
    them must hold the read permission of every event type they match, and for a type with
    an audience the permission to see all of them (a subscription must not show anyone more
    than a real-time connection would; an endpoint is nobody's own)."""
    unique = list(dict.fromkeys(event_pattern(p) for p in patterns))
    catalog = platform.events.catalog
    names = list(catalog)
    unknown = [p for p in unique if not any(matches_event([p], name) for name in names)]
    if unknown:
        raise UnknownEventTypeError(unknown)
    if principal is not None:
        denied = [
            name
            for name in names
            if matches_event(unique, name)
            and not (
                catalog.get(name).readable_by(principal) and catalog.get(name).sees_all(principal)
            )
        ]
        if denied:
            raise EventsNotPermittedError(denied)
    return unique


async def get_endpoint(session: AsyncSession, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    endpoint = await session.scalar(
        select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
    )
    if endpoint is None:
        raise EndpointNotFoundError(str(endpoint_id))
    return endpoint


def list_endpoints_query() -> Select[Any]:
    return select(WebhookEndpoint)


async def create_endpoint(
    platform: Platform,
    session: AsyncSession,
    *,
    url: str,
    description: str,
    event_types: Sequence[str],
    principal: Principal | None = None,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its first secret (returned once, stored in the vault)."""
    settings = settings_of(platform)
    patterns = check_patterns(platform, event_types, principal)
    await check_outbound_url(url, settings.policy)  # raises UrlRefusedError; before any write
    count = await session.scalar(select(func.count()).select_from(WebhookEndpoint))
    if (count or 0) >= settings.max_endpoints:
        raise TooManyEndpointsError(str(settings.max_endpoints))
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(),
        url=url,
        description=description,
        event_types=patterns,
        enabled=True,
        consecutive_failures=0,
        consecutive_dead=0,
        secret_version=1,
    )
    session.add(endpoint)
    await session.flush()
    secret = signing.new_secret()
    await platform.vault.store(
        session, signing.secret_name(endpoint.id.hex, 1), secret, plugin=PLUGIN
    )
    return endpoint, secret


async def update_endpoint(
    platform: Platform,
    session: AsyncSession,
    endpoint: WebhookEndpoint,
    *,
    changes: dict[str, Any],
    principal: Principal | None = None,
) -> list[str]:
    """Apply the given fields (``url``, ``description``, ``event_types``, ``enabled``);
    returns the names of the fields that changed."""
    changed: list[str] = []
    if "event_types" in changes:
        patterns = check_patterns(platform, changes["event_types"], principal)
        if patterns != endpoint.event_types:
            endpoint.event_types = patterns
            changed.append("event_types")
    if "url" in changes and changes["url"] != endpoint.url:
        await check_outbound_url(changes["url"], settings_of(platform).policy)
        endpoint.url = changes["url"]
        changed.append("url")
    if "description" in changes and changes["description"] != endpoint.description:
        endpoint.description = changes["description"]
        changed.append("description")
    if "enabled" in changes and changes["enabled"] != endpoint.enabled:
        if changes["enabled"]:
            await enable_endpoint(platform, session, endpoint)
        else:
            disable(endpoint, "disabled by a user")
        changed.append("enabled")
    if changed:
        endpoint.updated_at = utcnow()
        await session.flush()
    return changed


def disable(endpoint: WebhookEndpoint, reason: str) -> None:
    endpoint.enabled = False
    endpoint.disabled_reason = reason[:300]
    endpoint.disabled_at = utcnow()


async def enable_endpoint(
    platform: Platform, session: AsyncSession, endpoint: WebhookEndpoint
) -> None:
    """Enable (again): failure counters start over; held deliveries go out again."""
    endpoint.enabled = True
    endpoint.disabled_reason = None
    endpoint.disabled_at = None
    endpoint.consecutive_failures = 0
    endpoint.consecutive_dead = 0
    endpoint.failing_since = None
    endpoint.updated_at = utcnow()
    await session.flush()
    await platform.jobs.wake(session, JOB)


def live_secret_versions(endpoint: WebhookEndpoint, now: datetime | None = None) -> list[int]:
    """The versions that sign: the current one, and the previous during its grace."""
    versions = [endpoint.secret_version]
    expires = endpoint.previous_secret_expires_at
    if expires is not None and expires > (now or utcnow()) and endpoint.secret_version > 1:
        versions.append(endpoint.secret_version - 1)
    return versions


async def rotate_secret(
    platform: Platform,
    session: AsyncSession,
    endpoint: WebhookEndpoint,
    *,
    grace: timedelta,
) -> str:
    """A new secret (returned once); the current one keeps signing for ``grace``."""
    old = endpoint.secret_version
    hex_id = endpoint.id.hex
    if old > 1:  # at most two live secrets: the one before the current goes now
        await platform.vault.forget(session, signing.secret_name(hex_id, old - 1), plugin=PLUGIN)
    secret = signing.new_secret()
    await platform.vault.store(session, signing.secret_name(hex_id, old + 1), secret, plugin=PLUGIN)
    now = utcnow()
    if grace > timedelta(0):
        endpoint.previous_secret_expires_at = now + grace
    else:
        await platform.vault.forget(session, signing.secret_name(hex_id, old), plugin=PLUGIN)
        endpoint.previous_secret_expires_at = None
    endpoint.secret_version = old + 1
    endpoint.secret_rotated_at = now
    endpoint.updated_at = now
    await session.flush()
    return secret


async def delete_endpoint(
    platform: Platform, session: AsyncSession, endpoint: WebhookEndpoint
) -> None:
    """The endpoint, its deliveries and attempts (foreign keys cascade) and its secrets."""
    for version in (endpoint.secret_version, endpoint.secret_version - 1):
        if version >= 1:
            name = signing.secret_name(endpoint.id.hex, version)
            await platform.vault.forget(session, name, plugin=PLUGIN)
    await session.delete(endpoint)
    await session.flush()


# -- fan-out: one delivery per matching endpoint ------------------------------------------


async def fan_out(platform: Platform, event: DeliveredEvent) -> int:
    """Queue ``event`` for each enabled endpoint of its tenant whose patterns match; how many
    endpoints matched. Idempotent: a redelivered event adds no second delivery."""
    return await fan_out_many(platform, [event])


ROWS_PER_INSERT = 1000
"""Deliveries per INSERT statement (14 parameters each: under the drivers' limits)."""


async def fan_out_many(platform: Platform, events: Sequence[DeliveredEvent]) -> int:
    """Queue a batch of one tenant's events for their matching endpoints in one transaction
    (the ``kraliki_events`` hook); how many deliveries were queued or already there."""
    if not events:
        return 0
    async with platform.database.session() as session:
        endpoints = (
            await session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.enabled.is_(True)))
        ).all()
        if not endpoints:
            return 0
        now = utcnow()
        rows = []
        for event in events:
            about = about_endpoint(event.name, event.payload)
            matching = [
                e
                for e in endpoints
                if matches_event(e.event_types, event.name) and str(e.id) != about
            ]
            if not matching:
                continue
            envelope = event.envelope()
            rows += [
                {
                    "tenant_id": event.tenant_id,
                    "id": uuid.uuid4(),
                    "endpoint_id": endpoint.id,
                    "event_id": event.id,
                    "event_type": event.name,
                    "aggregate": event.aggregate,
                    "sequence": event.position,
                    "envelope": envelope,
                    "status": DeliveryStatus.PENDING.value,
                    "attempt_count": 0,
                    "schedule_step": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for endpoint in matching
            ]
        if not rows:
            return 0
        postgres = session.get_bind().dialect.name == "postgresql"
        insert: Any = (pg_insert if postgres else sqlite_insert)(WebhookDelivery)
        for start in range(0, len(rows), ROWS_PER_INSERT):
            await session.execute(
                insert.values(rows[start : start + ROWS_PER_INSERT]).on_conflict_do_nothing(
                    index_elements=["tenant_id", "endpoint_id", "event_id"]
                )
            )
        await platform.jobs.wake(session, JOB)
        await session.commit()
    return len(rows)


# -- deliveries -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryFilter:
    endpoint_id: uuid.UUID | None = None
    status: str | None = None
    event_type: str | None = None


def list_deliveries_query(filters: DeliveryFilter) -> Select[Any]:
    statement = select(WebhookDelivery)
    if filters.endpoint_id is not None:
        statement = statement.where(WebhookDelivery.endpoint_id == filters.endpoint_id)
    if filters.status is not None:
        statement = statement.where(WebhookDelivery.status == filters.status)
    if filters.event_type is not None:
        statement = statement.where(WebhookDelivery.event_type == filters.event_type)
    return statement


async def get_delivery(session: AsyncSession, delivery_id: uuid.UUID) -> WebhookDelivery:
    delivery = await session.scalar(
        select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
    )
    if delivery is None:
        raise DeliveryNotFoundError(str(delivery_id))
    return delivery


async def attempts_of(session: AsyncSession, delivery_id: uuid.UUID) -> list[WebhookAttempt]:
    rows = await session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery_id)
        .order_by(WebhookAttempt.number)
    )
    return list(rows)


def _requeue_values(now: datetime) -> dict[str, Any]:
    return {
        "status": DeliveryStatus.PENDING.value,
        "schedule_step": 0,
        "next_attempt_at": now,
        "finished_at": None,
        "updated_at": now,
    }


async def replay_delivery(
    platform: Platform, session: AsyncSession, delivery: WebhookDelivery
) -> None:
    """Queue the delivery again, now, with a fresh retry schedule (same ``webhook-id``)."""
    endpoint = await get_endpoint(session, delivery.endpoint_id)
    if not endpoint.enabled:
        raise EndpointDisabledError(str(endpoint.id))
    for key, value in _requeue_values(utcnow()).items():
        setattr(delivery, key, value)
    await session.flush()
    await platform.jobs.wake(session, JOB)


async def replay_deliveries(
    platform: Platform,
    session: AsyncSession,
    *,
    endpoint_id: uuid.UUID,
    statuses: Sequence[str],
    since: datetime | None,
) -> int:
    """Queue again every delivery of the endpoint in ``statuses`` (created since
    ``since``); how many."""
    endpoint = await get_endpoint(session, endpoint_id)
    if not endpoint.enabled:
        raise EndpointDisabledError(str(endpoint.id))
    statement = (
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .where(WebhookDelivery.status.in_(list(statuses)))
        .values(**_requeue_values(utcnow()))
        .execution_options(synchronize_session=False)
    )
    if since is not None:
        statement = statement.where(WebhookDelivery.created_at >= since)
    result = await session.execute(statement)
    count = int(getattr(result, "rowcount", 0) or 0)
    if count:
        await platform.jobs.wake(session, JOB)
    return count
