"""Raising and clearing alerts: the ``supervisor.alerts`` job evaluates a tenant's enabled
rules against the live figures, every ``EVERY`` while the tenant has rules or raised
alerts, and at once when a relevant event arrives or a rule changes.

Evaluations may overlap (the job on one worker, a rule change waking it on another). An
evaluation locks the enabled rules it evaluates, so that it and a rule change (which locks
its rule) take turns: a rule disabled meanwhile is never re-raised from what it was. And an
alert is inserted with ``ON CONFLICT DO NOTHING`` on the unique index of raised alerts (one
per rule and subject) and cleared with ``UPDATE ... WHERE status = 'raised'``; only the
statement that changed a row publishes its event, so each alert is raised and cleared once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import DeliveredEvent, JobTopic, Platform, current_tenant_id, utcnow
from plugins.supervisor.alerts.conditions import Breach, Figures, breaches
from plugins.supervisor.events import AlertCleared, AlertRaised
from plugins.supervisor.models import Alert, AlertRule, AlertStatus, RuleKind

TOPIC = "supervisor.alerts"
EVERY = timedelta(seconds=10)
"""How often rules are evaluated between events (waits and breaks grow with no event)."""
WAKING: dict[str, tuple[RuleKind, ...]] = {
    "queues.queue.stats": (RuleKind.QUEUE_LONGEST_WAIT, RuleKind.QUEUE_SERVICE_LEVEL),
    "agents.agent.state_changed": (RuleKind.AGENT_BREAK,),
    "campaigns.attempt.ended": (RuleKind.CAMPAIGN_ABANDONMENT,),
    "campaigns.campaign.state_changed": (RuleKind.CAMPAIGN_ABANDONMENT,),
    "webhooks.endpoint.disabled": (RuleKind.WEBHOOK_ENDPOINT_DISABLED,),
}
"""Events after which a rule of these kinds may change its mind: evaluate now."""
_RAISED = text("status = 'raised'")


_FIELDS = (
    "rule_id",
    "kind",
    "severity",
    "subject_type",
    "subject_key",
    "subject_name",
    "value",
    "threshold",
    "message",
)


def _fields(alert: Alert) -> dict[str, Any]:
    return {"alert_id": alert.id, **{name: getattr(alert, name) for name in _FIELDS}}


async def _raise(
    platform: Platform, session: AsyncSession, rule: AlertRule, breach: Breach, now: datetime
) -> bool:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "tenant_id": current_tenant_id(),
        "rule_id": rule.id,
        "kind": rule.kind,
        "severity": rule.severity,
        "subject_type": breach.subject_type,
        "subject_key": breach.subject_key[:128],
        "subject_name": breach.subject_name[:200],
        "status": AlertStatus.RAISED.value,
        "value": breach.value,
        "threshold": rule.threshold,
        "message": breach.message[:500],
        "raised_at": now,
    }
    postgres = session.get_bind().dialect.name == "postgresql"
    insert = (pg_insert if postgres else sqlite_insert)(Alert).values(**values)
    statement = insert.on_conflict_do_nothing(
        index_elements=["tenant_id", "rule_id", "subject_key"], index_where=_RAISED
    )
    result = await session.execute(statement)
    if not getattr(result, "rowcount", 0):
        return False
    fields = {name: values[name] for name in _FIELDS}
    await platform.events.publish(session, AlertRaised(alert_id=values["id"], **fields))
    return True


async def clear(platform: Platform, session: AsyncSession, alert: Alert, now: datetime) -> bool:
    """Clear ``alert`` unless someone did; publishes ``supervisor.alert.cleared`` if it was
    this call that cleared it."""
    result = await session.execute(
        update(Alert)
        .where(Alert.id == alert.id, Alert.status == AlertStatus.RAISED.value)
        .values(status=AlertStatus.CLEARED.value, cleared_at=now)
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):
        return False
    await platform.events.publish(session, AlertCleared(**_fields(alert)))
    return True


async def raised_alerts(session: AsyncSession, rule_id: uuid.UUID | None = None) -> list[Alert]:
    statement = select(Alert).where(Alert.status == AlertStatus.RAISED.value)
    if rule_id is not None:
        statement = statement.where(Alert.rule_id == rule_id)
    return list(await session.scalars(statement.execution_options(populate_existing=True)))


async def clear_rule(platform: Platform, session: AsyncSession, rule_id: uuid.UUID) -> int:
    """Clear the rule's raised alerts (it was disabled or is being deleted)."""
    now = utcnow()
    cleared = 0
    for alert in await raised_alerts(session, rule_id):
        cleared += await clear(platform, session, alert, now)
    return cleared


async def evaluate(platform: Platform, session: AsyncSession, now: datetime | None = None) -> bool:
    """Raise and clear the tenant's alerts in ``session`` (the caller commits); whether
    there is anything left to watch (enabled rules or raised alerts)."""
    now = now or utcnow()
    # Locked (in id order: two evaluations never deadlock) so that a rule disabled, changed
    # or deleted meanwhile is seen as it is once that change commits, never re-raised from
    # what it was.
    rules = list(
        await session.scalars(
            select(AlertRule)
            .where(AlertRule.enabled.is_(True))
            .order_by(AlertRule.id)
            .with_for_update()
        )
    )
    figures = Figures(platform, session, now)
    found: dict[tuple[uuid.UUID, str], tuple[AlertRule, Breach]] = {}
    for rule in rules:
        for breach in await breaches(rule, figures):
            found[(rule.id, breach.subject_key[:128])] = (rule, breach)
    raised = await raised_alerts(session)
    live = {(a.rule_id, a.subject_key): a for a in raised}
    for key, alert in live.items():
        if key not in found:
            await clear(platform, session, alert, now)
    for key, (rule, breach) in found.items():
        current = live.get(key)
        if current is None:
            await _raise(platform, session, rule, breach, now)
        elif current.value != breach.value:
            await session.execute(
                update(Alert)
                .where(Alert.id == current.id, Alert.status == AlertStatus.RAISED.value)
                .values(value=breach.value, message=breach.message[:500])
                .execution_options(synchronize_session=False)
            )
    return bool(rules) or bool(found)


async def run(platform: Platform, tenant_id: uuid.UUID) -> datetime | None:
    """The job: evaluate now; again in ``EVERY`` while there is something to watch."""
    async with platform.database.session() as session:
        watching = await evaluate(platform, session)
        await session.commit()
    return utcnow() + EVERY if watching else None


ALERTS_JOB = JobTopic(
    TOPIC,
    run,
    "Evaluate the organization's alert rules against the live figures: raise and clear "
    "alerts (every 10 s while rules exist, and at once after a relevant event).",
)


async def wake(platform: Platform, session: AsyncSession) -> None:
    await platform.jobs.wake(session, TOPIC)


async def on_events(platform: Platform, events: Sequence[DeliveredEvent]) -> None:
    """Evaluate now after an event that may change a rule's mind, if a rule watches it."""
    kinds = _kinds(e.name for e in events)
    if not kinds:
        return
    async with platform.database.session() as session:
        watched = await session.scalar(
            select(exists().where(AlertRule.enabled.is_(True), AlertRule.kind.in_(sorted(kinds))))
        )
        if watched:
            await wake(platform, session)
            await session.commit()


def _kinds(names: Iterable[str]) -> set[str]:
    return {kind.value for name in names for kind in WAKING.get(name, ())}
