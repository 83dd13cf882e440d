"""What the supervisor plugin's alerts read of webhooks
(``kraliki_supervisor_disabled_endpoints``): the endpoints disabled now."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plugins.supervisor import DisabledEndpoint
from plugins.webhooks.models import WebhookEndpoint


async def disabled_endpoints(session: AsyncSession) -> list[DisabledEndpoint]:
    rows = await session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.enabled.is_(False))
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    return [
        DisabledEndpoint(
            endpoint_id=row.id,
            name=row.description or urlsplit(row.url).hostname or "endpoint",
            reason=row.disabled_reason or "disabled",
        )
        for row in rows
    ]
