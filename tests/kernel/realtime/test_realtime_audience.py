"""Event types with an audience: a subscriber without the audience permission is offered
only the events whose audience field names them; with it, every one; webhook-style checks
(``sees_all``) tell the two apart."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from kernel import Event, Principal, UniqueRegistry
from kernel._events.types import DeliveredEvent
from kernel._realtime.hub import Subscriber

TENANT = uuid.uuid4()
ANA, BOB = uuid.uuid4(), uuid.uuid4()


class TicketSold(Event):
    name = "shop.ticket.sold"
    permission = "shop:read"
    audience = "seller_id"
    audience_permission = "shop:all"

    seller_id: uuid.UUID | None = None


class ShopOpened(Event):
    name = "shop.shop.opened"
    permission = "shop:read"


def principal(user: uuid.UUID, *permissions: str, kind: str = "user") -> Principal:
    return Principal(
        subject=str(user), kind=kind, tenant_id=TENANT, permissions=frozenset(permissions)
    )  # type: ignore[arg-type]


def subscriber(who: Principal) -> Subscriber:
    catalog = UniqueRegistry[type[Event]]("event type")
    catalog.register(TicketSold.name, TicketSold, plugin="shop")
    catalog.register(ShopOpened.name, ShopOpened, plugin="shop")
    found = Subscriber(principal=who, token="t", transport="sse", buffer=10, catalog=catalog)
    found.use(patterns=("shop.*",))
    return found


def delivered(name: str, payload: dict[str, object]) -> DeliveredEvent:
    return DeliveredEvent(
        id=uuid.uuid4(),
        tenant_id=TENANT,
        name=name,
        version=1,
        occurred_at=datetime.now(UTC),
        aggregate="shop",
        payload=payload,
        position=1,
    )


def test_a_seller_is_offered_only_their_own_sales():
    ana = subscriber(principal(ANA, "shop:read"))
    assert ana.wants(delivered(TicketSold.name, {"seller_id": str(ANA)}))
    assert not ana.wants(delivered(TicketSold.name, {"seller_id": str(BOB)}))
    assert not ana.wants(delivered(TicketSold.name, {"seller_id": None}))
    assert ana.wants(delivered(ShopOpened.name, {}))  # no audience: every reader


def test_the_audience_permission_is_offered_every_sale():
    manager = subscriber(principal(uuid.uuid4(), "shop:read", "shop:all"))
    assert manager.wants(delivered(TicketSold.name, {"seller_id": str(BOB)}))
    assert manager.wants(delivered(TicketSold.name, {"seller_id": None}))


def test_an_api_key_without_the_audience_permission_is_offered_none():
    key = subscriber(principal(uuid.uuid4(), "shop:read", kind="api_key"))
    assert not key.wants(delivered(TicketSold.name, {"seller_id": str(ANA)}))
    assert TicketSold.readable_by(key.principal)
    assert not TicketSold.sees_all(key.principal)
    assert ShopOpened.sees_all(key.principal)


def test_without_the_read_permission_nothing_is_offered():
    nobody = subscriber(principal(ANA, "shop:all"))
    assert not nobody.wants(delivered(TicketSold.name, {"seller_id": str(ANA)}))
