"""What each rule kind watches: the subjects whose figure breaks the rule now.

One :class:`Figures` per evaluation reads each source once (every queue's live figures in
one aggregate, the agents away, the campaigns' 30-day figures, the tenant's breakers, the
disabled webhook endpoints), whatever the number of rules.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, current_tenant_id
from plugins.agents import Agent, AgentState
from plugins.queues import QueueSnapshot, queue_snapshots
from plugins.supervisor.figures import CampaignFigure, DisabledEndpoint
from plugins.supervisor.models import AlertRule, RuleKind
from plugins.supervisor.sources import campaign_figures, disabled_endpoints

OPEN_STATES = frozenset({"open", "forced_open", "half_open"})
"""A half-open breaker lets one trial call through: not recovered yet."""


@dataclass(frozen=True, slots=True)
class Breach:
    subject_type: str
    subject_key: str
    subject_name: str
    value: float | None
    message: str


@dataclass
class Figures:
    """The live figures of one evaluation, each read once when a rule first needs it."""

    platform: Platform
    session: AsyncSession
    now: datetime
    _cache: dict[str, Any] = field(default_factory=dict)

    async def _once(self, key: str, load: Callable[[], Awaitable[Any]]) -> Any:
        if key not in self._cache:
            self._cache[key] = await load()
        return self._cache[key]

    async def queues(self) -> list[QueueSnapshot]:
        return list(
            await self._once(
                "queues", lambda: queue_snapshots(self.platform, self.session, now=self.now)
            )
        )

    async def agents_away(self) -> list[Agent]:
        async def load() -> list[Agent]:
            return list(
                await self.session.scalars(
                    select(Agent).where(
                        Agent.active.is_(True), Agent.state == AgentState.AWAY.value
                    )
                )
            )

        return list(await self._once("agents", load))

    async def campaigns(self) -> list[CampaignFigure]:
        return list(
            await self._once("campaigns", lambda: campaign_figures(self.platform, self.session))
        )

    async def breakers(self) -> dict[str, str]:
        resilience = self.platform.resilience
        return dict(
            await self._once("breakers", lambda: resilience.breaker_states(current_tenant_id()))
        )

    async def endpoints(self) -> list[DisabledEndpoint]:
        return list(
            await self._once("endpoints", lambda: disabled_endpoints(self.platform, self.session))
        )


def _mine(rule: AlertRule, subject: object) -> bool:
    return rule.subject_id is None or str(rule.subject_id) == str(subject)


async def _longest_wait(rule: AlertRule, figures: Figures) -> list[Breach]:
    limit = rule.threshold or 0.0
    return [
        Breach(
            "queue",
            str(q.queue_id),
            q.name,
            q.oldest_wait_seconds,
            f"{q.name}: a caller has waited {q.oldest_wait_seconds:g} s (over {limit:g} s)",
        )
        for q in await figures.queues()
        if _mine(rule, q.queue_id) and q.waiting and q.oldest_wait_seconds > limit
    ]


async def _service_level(rule: AlertRule, figures: Figures) -> list[Breach]:
    limit = rule.threshold or 0.0
    return [
        Breach(
            "queue",
            str(q.queue_id),
            q.name,
            q.today.service_level,
            f"{q.name}: service level today {q.today.service_level:g} % (under {limit:g} %)",
        )
        for q in await figures.queues()
        if _mine(rule, q.queue_id)
        and q.today.service_level is not None
        and q.today.service_level < limit
    ]


async def _abandonment(rule: AlertRule, figures: Figures) -> list[Breach]:
    limit = rule.threshold or 0.0
    return [
        Breach(
            "campaign",
            str(c.campaign_id),
            c.name,
            c.abandonment_rate_30d,
            f"{c.name}: 30-day abandonment {c.abandonment_rate_30d:g} % (over {limit:g} %)",
        )
        for c in await figures.campaigns()
        if _mine(rule, c.campaign_id)
        and c.abandonment_rate_30d is not None
        and c.abandonment_rate_30d > limit
    ]


async def _break(rule: AlertRule, figures: Figures) -> list[Breach]:
    limit = rule.threshold or 0.0
    out = []
    for agent in await figures.agents_away():
        minutes = round((figures.now - agent.state_since).total_seconds() / 60.0, 1)
        if _mine(rule, agent.id) and minutes > limit:
            reason = f" ({agent.reason_code})" if agent.reason_code else ""
            out.append(
                Breach(
                    "agent",
                    str(agent.id),
                    agent.display_name,
                    minutes,
                    f"{agent.display_name} has been away{reason} {minutes:g} min "
                    f"(over {limit:g} min)",
                )
            )
    return out


async def _breaker(rule: AlertRule, figures: Figures) -> list[Breach]:
    return [
        Breach("provider", name, name, None, f"{name}: circuit breaker {state}")
        for name, state in sorted((await figures.breakers()).items())
        if state in OPEN_STATES
    ]


async def _endpoint(rule: AlertRule, figures: Figures) -> list[Breach]:
    return [
        Breach(
            "endpoint",
            str(e.endpoint_id),
            e.name,
            None,
            f"webhook endpoint {e.name} is disabled: {e.reason}",
        )
        for e in await figures.endpoints()
    ]


CHECKS: dict[RuleKind, Callable[[AlertRule, Figures], Awaitable[list[Breach]]]] = {
    RuleKind.QUEUE_LONGEST_WAIT: _longest_wait,
    RuleKind.QUEUE_SERVICE_LEVEL: _service_level,
    RuleKind.CAMPAIGN_ABANDONMENT: _abandonment,
    RuleKind.AGENT_BREAK: _break,
    RuleKind.PROVIDER_BREAKER_OPEN: _breaker,
    RuleKind.WEBHOOK_ENDPOINT_DISABLED: _endpoint,
}


async def breaches(rule: AlertRule, figures: Figures) -> list[Breach]:
    return await CHECKS[RuleKind(rule.kind)](rule, figures)
