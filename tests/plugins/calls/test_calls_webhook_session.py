"""A provider webhook is one database session and, on its usual path, one transaction: the
tenant check, the secret's cache check, the receipt and every effect (docs/adr/0034). A
redelivery and a rejected webhook keep their guarantees inside that one session."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import event, select

from kernel import tenant_scope
from plugins.calls.models import WebhookReceipt


@dataclass
class Sessions:
    opened: set[int] = field(default_factory=set)
    transactions: int = 0


@contextmanager
def counted(platform) -> Iterator[Sessions]:
    """Sessions of the platform's database that began a transaction, and how many."""
    seen = Sessions()
    session_class = platform.database.sessionmaker.kw["sync_session_class"]

    def began(session, transaction, _connection) -> None:
        if not transaction.nested:
            seen.opened.add(id(session))
            seen.transactions += 1

    event.listen(session_class, "after_begin", began)
    try:
        yield seen
    finally:
        event.remove(session_class, "after_begin", began)


async def _outcomes(platform, tenant) -> dict[str, str]:
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            rows = await session.scalars(select(WebhookReceipt))
            return {row.dedupe_key: row.outcome for row in rows}


async def test_a_status_webhook_is_one_session_and_one_transaction(place, send, platform):
    call = await place()
    ringing = [{"type": "progress", "call": call["provider_call_id"], "status": "ringing"}]
    answered = [{"type": "progress", "call": call["provider_call_id"], "status": "in-progress"}]
    assert (await send(ringing, delivery_id="s-1")).status_code == 200  # fills the cache
    with counted(platform) as webhook:
        assert (await send(answered, delivery_id="s-2")).status_code == 200
    assert (len(webhook.opened), webhook.transactions) == (1, 1)
    with counted(platform) as again:  # a redelivery: recognised, answered, nothing applied twice
        assert (await send(answered, delivery_id="s-2")).status_code == 200
    assert (len(again.opened), again.transactions) == (1, 1)


async def test_a_rejected_webhook_is_kept_in_the_same_session(place, send, platform, tenant):
    call = await place()
    ended = [
        {"type": "progress", "call": call["provider_call_id"], "status": "completed"}
        | {"duration": 2**31}
    ]
    assert (await send([], delivery_id="warm")).status_code == 200
    with counted(platform) as webhook:
        response = await send(ended, delivery_id="big-1")
    assert response.status_code == 400, response.text
    # The effects' transaction rolled back, then the receipt was kept in a second one.
    assert (len(webhook.opened), webhook.transactions) == (1, 2)
    assert (await _outcomes(platform, tenant))["big-1"] == "rejected"


async def test_a_forged_webhook_writes_nothing(send, platform, tenant):
    with counted(platform) as webhook:
        response = await send([], delivery_id="forged", secret="not-the-secret")
    assert response.status_code == 403
    assert len(webhook.opened) <= 2  # the webhook's, and the vault's audited fill if cold
    assert "forged" not in await _outcomes(platform, tenant)
