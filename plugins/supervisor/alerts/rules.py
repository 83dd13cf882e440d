"""Alert rules: checked (thresholds by kind, subjects of the tenant), stored, changed with
``If-Match``, deleted. No HTTP here; the routes are in ``api.py``."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, ProblemError, if_match_allows
from plugins.agents import Agent
from plugins.queues import Queue
from plugins.supervisor.models import AlertRule, RuleKind
from plugins.supervisor.problems import RULE_CHANGED, RULE_INVALID, RULE_NOT_FOUND
from plugins.supervisor.sources import campaign_figures, campaigns_installed

SUBJECTS: dict[RuleKind, str] = {
    RuleKind.QUEUE_LONGEST_WAIT: "queue",
    RuleKind.QUEUE_SERVICE_LEVEL: "queue",
    RuleKind.CAMPAIGN_ABANDONMENT: "campaign",
    RuleKind.AGENT_BREAK: "agent",
}
"""What a kind's ``subject_id`` names; the other kinds take no subject."""
PERCENT = (RuleKind.QUEUE_SERVICE_LEVEL, RuleKind.CAMPAIGN_ABANDONMENT)
NO_THRESHOLD = (RuleKind.PROVIDER_BREAKER_OPEN, RuleKind.WEBHOOK_ENDPOINT_DISABLED)


async def _subject_exists(
    platform: Platform, session: AsyncSession, kind: RuleKind, subject_id: uuid.UUID
) -> str | None:
    """Why ``subject_id`` cannot be the rule's subject (None: it can)."""
    what = SUBJECTS[kind]
    found: object
    if what == "queue":
        found = await session.scalar(select(Queue.id).where(Queue.id == subject_id))
    elif what == "agent":
        found = await session.scalar(select(Agent.id).where(Agent.id == subject_id))
    else:
        if not campaigns_installed(platform):
            return "campaigns are not installed"
        found = await campaign_figures(platform, session, [subject_id])
    return None if found else f"no {what} of your organization has this id"


async def check_rule(
    platform: Platform,
    session: AsyncSession,
    *,
    kind: RuleKind,
    threshold: float | None,
    subject_id: uuid.UUID | None,
) -> None:
    """Raise ``RULE_INVALID`` listing every value the kind cannot take."""
    errors: list[dict[str, Any]] = []

    def refuse(field: str, message: str) -> None:
        errors.append({"loc": ["body", field], "message": message, "type": "value_error"})

    if kind in NO_THRESHOLD:
        if threshold is not None:
            refuse("threshold", f"{kind.value} takes no threshold")
    elif threshold is None:
        refuse("threshold", f"{kind.value} needs a threshold")
    elif kind in PERCENT and not 0 < threshold <= 100:
        refuse("threshold", "a percentage above 0, at most 100")
    elif threshold <= 0:
        refuse("threshold", "must be above 0")
    if subject_id is not None:
        if kind not in SUBJECTS:
            refuse("subject_id", f"{kind.value} takes no subject")
        else:
            why = await _subject_exists(platform, session, kind, subject_id)
            if why is not None:
                refuse("subject_id", why)
    if errors:
        detail = "; ".join(f"{e['loc'][-1]}: {e['message']}" for e in errors)
        raise ProblemError(RULE_INVALID, detail, errors=errors)


async def get_rule(session: AsyncSession, rule_id: uuid.UUID, *, lock: bool = False) -> AlertRule:
    statement = select(AlertRule).where(AlertRule.id == rule_id)
    if lock:
        statement = statement.with_for_update()
    rule = await session.scalar(statement)
    if rule is None:
        raise ProblemError(RULE_NOT_FOUND, f"no alert rule {rule_id}")
    return rule


async def create_rule(
    platform: Platform, session: AsyncSession, *, values: dict[str, Any]
) -> AlertRule:
    kind = RuleKind(values["kind"])
    await check_rule(
        platform,
        session,
        kind=kind,
        threshold=values.get("threshold"),
        subject_id=values.get("subject_id"),
    )
    rule = AlertRule(
        id=uuid.uuid4(),
        name=values["name"],
        kind=kind.value,
        threshold=values.get("threshold"),
        subject_id=values.get("subject_id"),
        severity=str(values.get("severity", "warning")),
        enabled=bool(values.get("enabled", True)),
        version=1,
    )
    session.add(rule)
    await session.flush()
    return rule


async def update_rule(
    platform: Platform,
    session: AsyncSession,
    *,
    rule_id: uuid.UUID,
    values: dict[str, Any],
    if_match: str | None,
) -> tuple[AlertRule, list[str]]:
    """The rule with ``values`` applied, and the fields that changed (none: untouched)."""
    rule = await get_rule(session, rule_id, lock=True)
    if not if_match_allows(if_match, rule.version):
        raise ProblemError(RULE_CHANGED, f"the rule is at version {rule.version}")
    changed = [name for name, value in values.items() if getattr(rule, name) != value]
    if not changed:
        return rule, []
    await check_rule(
        platform,
        session,
        kind=RuleKind(rule.kind),
        threshold=values.get("threshold", rule.threshold),
        subject_id=values.get("subject_id", rule.subject_id),
    )
    for name in changed:
        setattr(rule, name, values[name])
    rule.version += 1
    await session.flush()
    return rule, sorted(changed)


async def lock_for_delete(
    session: AsyncSession, *, rule_id: uuid.UUID, if_match: str | None
) -> AlertRule:
    rule = await get_rule(session, rule_id, lock=True)
    if not if_match_allows(if_match, rule.version):
        raise ProblemError(RULE_CHANGED, f"the rule is at version {rule.version}")
    return rule
