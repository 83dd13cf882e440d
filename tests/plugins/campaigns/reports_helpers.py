"""What the metrics, compliance-report and disposition tests share (imported by name).

The dialer places agentless calls only; the rows of an agent campaign (an answer connected
to an agent, an abandoned call and its safe-harbour message) are what the lead's
progressive and predictive connection will write. Until it does, these tests write such
attempt rows directly, each with the decision record the real check (``POST /check``)
answers for it, and say so where they do."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
from campaigns_helpers import BASE, NUMBER, World, create
from sqlalchemy import update

from kernel import DeliveredEvent, Platform, tenant_scope
from plugins.campaigns.dialer import dial
from plugins.campaigns.models import Attempt, Campaign

NOON_LA = datetime(2027, 3, 3, 20, 0, tzinfo=UTC)
"""A Wednesday noon in Los Angeles: the world's 415 numbers may be called."""


class Placer:
    """Stands in for the calls plugin's ``place_call`` (as in ``test_dialer_engine.py``):
    commits as it does and answers with a new call id."""

    def __init__(self) -> None:
        self.requests: list[Any] = []

    async def __call__(self, platform: Any, session: Any, request: Any) -> SimpleNamespace:
        await asyncio.sleep(0)
        self.requests.append(request)
        await session.commit()
        return SimpleNamespace(id=uuid.uuid4())


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def agentless(client: httpx.AsyncClient, world: World, contact_ids: list[str], **fields: Any):
    """An agentless campaign over ``contact_ids`` with Los Angeles hours, activated."""
    body = {
        "name": "Reminders",
        "mode": "agentless",
        "source": {"kind": "list", "contact_ids": contact_ids},
        "flow_id": world.flow_id,
        "caller_id": NUMBER,
        "consent_purpose": "informational",
        "schedule": {
            "time_zone": "America/Los_Angeles",
            "hours": [{"start": "09:00", "end": "17:00"}],
        },
        **fields,
    }
    campaign = await create(client, world, body)
    await ok(await client.post(f"{BASE}/{campaign['id']}/activate", headers=world.headers))
    return str(campaign["id"])


async def progressive(client: httpx.AsyncClient, world: World, **fields: Any) -> str:
    """A progressive campaign over the world's contacts, open every day and hour, activated
    (no pacer dials it: its attempts are written by the tests)."""
    body = {
        "name": "Renewals",
        "mode": "progressive",
        "source": {"kind": "list", "contact_ids": world.contact_ids},
        "queue_id": world.queue_id,
        "caller_id": NUMBER,
        "consent_purpose": "informational",
        "dispositions": ["sale", "no_sale", "callback"],
        "schedule": {
            "time_zone": "America/Los_Angeles",
            "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "hours": [{"start": "09:00", "end": "17:00"}],
        },
        **fields,
    }
    campaign = await create(client, world, body)
    await ok(await client.post(f"{BASE}/{campaign['id']}/activate", headers=world.headers))
    return str(campaign["id"])


async def run(platform: Platform, tenant_id: uuid.UUID, now: datetime) -> None:
    with tenant_scope(tenant_id):
        await dial(platform, tenant_id, now=now)


def delivered(name: str, call_id: str, at: datetime, **payload: Any) -> DeliveredEvent:
    return DeliveredEvent(
        id=uuid.uuid4(),
        tenant_id=uuid.uuid4(),
        name=name,
        version=1,
        occurred_at=at,
        aggregate=call_id,
        payload={"call_id": call_id, **payload},
        position=1,
    )


async def decision(
    client: httpx.AsyncClient, world: World, campaign_id: str, contact_id: str, at: datetime
) -> dict[str, Any]:
    """The real check's record for a dial at ``at`` (what the dialer stores)."""
    record: dict[str, Any] = await ok(
        await client.post(
            f"{BASE}/{campaign_id}/check",
            headers=world.headers,
            json={"contact_id": contact_id, "at": at.isoformat()},
        )
    )
    return record


async def write_attempts(
    platform: Platform,
    tenant_id: uuid.UUID,
    campaign_id: str,
    rows: list[Mapping[str, Any]],
) -> list[str]:
    """Attempt rows as the agent modes will write them (see the module); ``decision``
    holds the real check's record. Returns their ids, in order."""
    ids = []
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            for n, row in enumerate(rows):
                record = dict(row["decision"])
                values = {
                    "id": uuid.uuid4(),
                    "campaign_id": uuid.UUID(campaign_id),
                    "contact_id": uuid.UUID(record["checks"]["contact"]["contact_id"]),
                    "number": record["number"],
                    "attempt_no": n + 1,
                    "decided_at": row.get("decided_at") or datetime.fromisoformat(record["at"]),
                    "decision": record,
                    "allowed": record["allowed"],
                    "rule": record["rule"],
                    "status": "ended" if record["allowed"] else "blocked",
                    **{k: v for k, v in row.items() if k not in ("decision", "decided_at")},
                }
                session.add(Attempt(**values))
                ids.append(str(values["id"]))
            await session.commit()
    return ids


async def change_attempt(
    platform: Platform, tenant_id: uuid.UUID, attempt_id: str, **values: Any
) -> None:
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            await session.execute(
                update(Attempt).where(Attempt.id == uuid.UUID(attempt_id)).values(**values)
            )
            await session.commit()


async def change_campaign(
    platform: Platform, tenant_id: uuid.UUID, campaign_id: str, **values: Any
) -> None:
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            await session.execute(
                update(Campaign).where(Campaign.id == uuid.UUID(campaign_id)).values(**values)
            )
            await session.commit()


def hour_floor(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)
