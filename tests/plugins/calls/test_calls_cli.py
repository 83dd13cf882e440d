"""``kraliki calls reconcile`` and ``kraliki calls force-end``: an operator settles stuck calls
from a server's shell; forcing is recorded in the operator audit log."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from sqlalchemy import select

from kernel import Tenant, open_platform, tenant_scope, utcnow
from kernel.testing import operator_audit_events

GONE_CARRIER = "LB" + "f" * 16  # a loopback carrier with no lease: its process is gone


def test_operators_reconcile_and_force_end_stuck_calls(operator_cli):
    run = operator_cli
    stale, fresh = asyncio.run(_two_ringing_calls())

    reconciled = run("calls", "reconcile", "--tenant", "acme")
    assert reconciled.exit_code == 0, reconciled.output
    assert "acme: 1 calls checked, 1 ended, 0 moved on, 0 left for later" in reconciled.output
    forced = run("calls", "force-end", str(fresh), "--tenant", "acme", "--reason", "stuck")
    assert forced.exit_code == 0, forced.output
    assert f"call {fresh} ended (canceled, force-ended)" in forced.output
    again = run("calls", "force-end", str(fresh), "--tenant", "acme")
    assert again.exit_code != 0
    assert "has ended already" in again.output

    ended, audited = asyncio.run(_outcome(stale, fresh))
    assert ended == {stale: ("failed", "carrier-lost"), fresh: ("canceled", "force-ended")}
    assert audited == [("cli", "call", str(fresh), {"reason": "stuck"})]


async def _two_ringing_calls() -> tuple[uuid.UUID, uuid.UUID]:
    from plugins.calls.models import Call

    async with open_platform() as platform:
        async with platform.database.session() as session:
            tenant_id = await session.scalar(select(Tenant.id).where(Tenant.slug == "acme"))
        ids = []
        with tenant_scope(tenant_id):
            async with platform.database.session() as session:
                for age in (1000, 0):
                    call = Call(
                        direction="outbound",
                        from_number="+14155550100",
                        to_number="+14155550123",
                        provider="loopback",
                        provider_call_id=GONE_CARRIER + uuid.uuid4().hex,
                        status="ringing",
                        heard_at=utcnow() - timedelta(seconds=age),
                    )
                    session.add(call)
                    await session.flush()
                    ids.append(call.id)
                await session.commit()
    return ids[0], ids[1]


async def _outcome(*call_ids: uuid.UUID) -> tuple[dict, list]:
    from plugins.calls.models import Call

    async with open_platform() as platform:
        async with platform.database.session() as session:
            tenant_id = await session.scalar(select(Tenant.id).where(Tenant.slug == "acme"))
        audited = [
            (a.actor_id, a.target_type, a.target_id, {"reason": a.details["reason"]})
            for a in await operator_audit_events(platform, "calls.call.force-ended")
        ]
        with tenant_scope(tenant_id):
            async with platform.database.session() as session:
                rows = await session.scalars(select(Call).where(Call.id.in_(call_ids)))
                ended = {row.id: (row.status, row.hangup_cause) for row in rows}
    return ended, audited
