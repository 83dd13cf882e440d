"""Seeds the supervisor plugin's session tables for the cross-tenant route walk: the
organization's supervision settings (through the API) and an ended supervision session on the
seeded agent (alert rules and alerts: ``alerts.py``).

A session needs a live call to start; it is written through the model (as the session
service writes it), inside the tenant's scope of the walk's in-process app.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from kernel import tenant_scope, utcnow
from plugins.agents import Agent
from plugins.supervisor import SupervisionSession


def _platform(client: Any) -> Any:
    """The walk's app runs in process: its platform is behind the client's ASGI transport."""
    return client._transport.app.state.platform


async def seed(client: Any, tenant: Any) -> None:
    """Rows of every supervisor table for ``tenant`` (``.headers``, ``.slug``, ``.id``)."""
    h = tenant.headers
    settings = await client.put(
        "/api/v1/supervisor/settings", headers=h, json={"announce_to_agent": True}
    )
    assert settings.status_code == 200, settings.text
    now = utcnow()
    with tenant_scope(tenant.id):
        async with _platform(client).database.session() as session:
            agent_id = await session.scalar(select(Agent.id).order_by(Agent.created_at).limit(1))
            assert agent_id is not None, "the agents seeds come first"
            session.add(
                SupervisionSession(
                    agent_id=agent_id,
                    supervisor_user_id=None,
                    supervisor=f"seed@{tenant.slug}",
                    mode="monitor",
                    status="ended",
                    provider="fakeline",
                    conference=f"kq-{uuid.uuid4()}",
                    source="queues",
                    agent_call_id=uuid.uuid4(),
                    customer_call_id=uuid.uuid4(),
                    supervisor_call_id=uuid.uuid4(),
                    reach="+14155550199",
                    announced=True,
                    mode_changes=1,
                    started_at=now - timedelta(minutes=5),
                    connected_at=now - timedelta(minutes=5),
                    ended_at=now - timedelta(minutes=1),
                    end_reason="supervisor",
                    version=3,
                )
            )
            await session.commit()
