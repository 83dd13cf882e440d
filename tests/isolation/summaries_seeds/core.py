"""Seeds the summaries plugin's table for the cross-tenant route walk: a done summary of the
tenant's seeded call, written through the model (as the job writes it), inside the tenant's
scope of the walk's in-process app (a summary needs an ended call and the job)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from kernel import tenant_scope, utcnow
from plugins.calls import Call
from plugins.summaries import CallSummaryRow


def _platform(client: Any) -> Any:
    """The walk's app runs in process: its platform is behind the client's ASGI transport."""
    return client._transport.app.state.platform


async def seed(client: Any, tenant: Any) -> None:
    """A summary row for ``tenant`` (``.slug``, ``.id``) on its first call."""
    with tenant_scope(tenant.id):
        async with _platform(client).database.session() as session:
            call_id = await session.scalar(select(Call.id).order_by(Call.created_at).limit(1))
            assert call_id is not None, "the calls seeds come first"
            session.add(
                CallSummaryRow(
                    call_id=call_id,
                    status="done",
                    attempts=1,
                    summary=f"Customer: hello from {tenant.slug}.",
                    reason=f"hello from {tenant.slug}",
                    outcome="resolved",
                    suggested_disposition=None,
                    follow_ups=[f"Call {tenant.slug} back"],
                    provider="offline",
                    model="offline",
                    fell_back=False,
                    summarized_at=utcnow(),
                )
            )
            await session.commit()
