"""Recent activity: the tenant's last notable events from the kernel's event store, the
ones the reader's roles may see (each event type names its read permission)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, Principal
from plugins.supervisor.dashboard.schemas import ActivityEvent, DashboardActivity

NOTABLE = (
    "queues.call.answered",
    "queues.call.completed",
    "queues.call.abandoned",
    "queues.call.overflowed",
    "queues.call.callback_requested",
    "queues.call.moved",
    "agents.agent.state_changed",
    "supervisor.session.started",
    "supervisor.session.mode_changed",
    "supervisor.session.ended",
    "supervisor.alert.raised",
    "supervisor.alert.cleared",
    "campaigns.campaign.state_changed",
    "webhooks.endpoint.disabled",
)
"""What a supervisor wants to see go by; customers' calls through the queues' events (the
calls' own events would show agents' legs too). Types of plugins not installed are skipped."""


def readable(platform: Platform, principal: Principal) -> set[str]:
    catalog = platform.events.catalog
    return {
        name for name in NOTABLE if name in catalog and catalog.get(name).readable_by(principal)
    }


async def activity(
    platform: Platform, session: AsyncSession, principal: Principal, limit: int
) -> DashboardActivity:
    events = await platform.events.latest(session, names=readable(platform, principal), limit=limit)
    return DashboardActivity(
        items=[
            ActivityEvent(
                id=e.id,
                type=e.name,
                occurred_at=e.occurred_at,
                position=e.position,
                data=e.payload,
            )
            for e in events
        ]
    )
