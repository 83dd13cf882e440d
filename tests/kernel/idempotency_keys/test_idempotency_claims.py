"""``Idempotency-Key`` through HTTP: a retry gets the first answer, a different request with
the key is refused, a failed request frees its key, and two copies racing act once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel
from sqlalchemy import func, select

from kernel import (
    IdempotencyKeyHeader,
    Permission,
    PlatformDep,
    Principal,
    ProblemError,
    SessionDep,
    record_audit_event,
    require,
    tenant_scope,
    utcnow,
)
from kernel._identity.models import AuditEvent
from kernel._problems import CONFLICT
from kernel.testing import login

PLACE = Permission("shop.orders", "create", "Place orders.", ("agent",))
ORDERS = "/api/v1/shop/orders"


class OrderIn(BaseModel):
    item: str
    quantity: int = 1


class Shop:
    """The throwaway plugin's behaviour, set by each test."""

    def __init__(self) -> None:
        self.hold = False  # wait at the gate before acting
        self.entered = 0
        self.gate = asyncio.Event()
        self.fail_with: BaseException | None = None  # raise this once, after acting
        self.skip_complete = False  # answer without storing the answer


def shop_router(shop: Shop) -> APIRouter:
    router = APIRouter()

    @router.post("/orders", status_code=201)
    async def place_order(
        body: OrderIn,
        session: SessionDep,
        platform: PlatformDep,
        idempotency_key: IdempotencyKeyHeader,
        principal: Annotated[Principal, Depends(require("shop.orders", "create"))],
    ) -> Response:
        async with platform.idempotency.claim(
            idempotency_key,
            scope="shop.place",
            request=body.model_dump(mode="json"),
            principal=principal,
        ) as claim:
            if claim.replay is not None:
                return claim.replay
            shop.entered += 1
            if shop.hold:
                await shop.gate.wait()
            order_id = uuid.uuid4()
            # The side effect: a row written in the request's transaction.
            record_audit_event(
                session, principal, "shop.order_placed", target_type="order", target_id=order_id
            )
            await session.flush()
            if shop.fail_with is not None:
                failure, shop.fail_with = shop.fail_with, None
                raise failure
            if shop.skip_complete:
                await session.commit()
                return Response(status_code=204)
            return await claim.complete(
                session,
                201,
                {"id": order_id, "item": body.item, "quantity": body.quantity},
                headers={"Location": f"{ORDERS}/{order_id}"},
            )

    return router


@pytest.fixture
def shop() -> Shop:
    return Shop()


@pytest.fixture
def kraliki_installed_plugins():
    return []


@pytest.fixture
def kraliki_extra_plugins(make_plugin, shop):
    return [make_plugin("shop", permissions=[PLACE], routers=[shop_router(shop)])]


@pytest.fixture
async def acme(kraliki_make_tenant) -> uuid.UUID:
    return await kraliki_make_tenant("acme")


@pytest.fixture
async def ana(kraliki_client, kraliki_make_user, acme) -> dict[str, str]:
    await kraliki_make_user(acme, "ana@acme.example.com")
    return await login(kraliki_client, "ana@acme.example.com", tenant="acme")


async def place(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    key: str | bytes | None = None,
    item: str = "widget",
    quantity: int = 1,
) -> httpx.Response:
    sent = dict(headers)
    if key is not None:
        sent["Idempotency-Key"] = key  # type: ignore[assignment]
    return await client.post(ORDERS, headers=sent, json={"item": item, "quantity": quantity})


async def orders_placed(platform, tenant_id: uuid.UUID) -> int:
    """The side effects that committed."""
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "shop.order_placed")
            )
    return int(count or 0)


def later(platform, delta: timedelta) -> None:
    platform.idempotency.clock = lambda: utcnow() + delta


async def test_a_retry_gets_the_first_answer_and_acts_once(
    kraliki_client, kraliki_platform, ana, acme, shop
):
    first = await place(kraliki_client, ana, key="order-1")
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    for _ in range(2):
        again = await place(kraliki_client, ana, key="order-1")
        assert again.status_code == 201
        assert again.headers["idempotent-replayed"] == "true"
        assert again.content == first.content
        assert again.headers["location"] == first.headers["location"]
        assert again.headers["content-type"] == "application/json"
    assert shop.entered == 1
    assert await orders_placed(kraliki_platform, acme) == 1


async def test_the_same_key_with_a_different_body_is_refused(
    kraliki_client, kraliki_platform, ana, acme
):
    assert (await place(kraliki_client, ana, key="order-1")).status_code == 201
    other = await place(kraliki_client, ana, key="order-1", quantity=2)
    assert other.status_code == 409
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["type"] == "/problems/idempotency-key-reused"
    assert "different request" in other.json()["detail"]
    assert await orders_placed(kraliki_platform, acme) == 1


async def test_another_user_cannot_reuse_a_key(
    kraliki_client, kraliki_platform, kraliki_make_user, ana, acme
):
    await kraliki_make_user(acme, "bob@acme.example.com")
    bob = await login(kraliki_client, "bob@acme.example.com", tenant="acme")
    first = await place(kraliki_client, ana, key="shared")
    assert first.status_code == 201
    stolen = await place(kraliki_client, bob, key="shared")
    assert stolen.status_code == 409
    assert stolen.json()["type"] == "/problems/idempotency-key-reused"
    assert first.json()["id"] not in stolen.text
    assert await orders_placed(kraliki_platform, acme) == 1


async def test_without_a_key_every_request_acts(kraliki_client, kraliki_platform, ana, acme):
    answers = [await place(kraliki_client, ana) for _ in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert len({a.json()["id"] for a in answers}) == 3
    assert all("idempotent-replayed" not in a.headers for a in answers)
    assert await orders_placed(kraliki_platform, acme) == 3


@pytest.mark.parametrize(
    "key",
    ["", "x" * 256, "tab\there", b"cl\xc3\xa9", b"\x7fdelete"],
    ids=["empty", "too-long", "control", "non-ascii", "del"],
)
async def test_invalid_keys_are_refused(kraliki_client, kraliki_platform, ana, acme, key):
    refused = await place(kraliki_client, ana, key=key)
    assert refused.status_code == 400, refused.text
    assert refused.json()["type"] == "/problems/idempotency-key-invalid"
    assert await orders_placed(kraliki_platform, acme) == 0


@pytest.mark.parametrize("key", ["x" * 255, "a key with spaces", "~!@#$%^&*()_+{}|:<>?"])
async def test_printable_ascii_keys_up_to_255_characters_are_fine(kraliki_client, ana, key):
    assert (await place(kraliki_client, ana, key=key)).status_code == 201
    assert (await place(kraliki_client, ana, key=key)).headers["idempotent-replayed"] == "true"


async def test_the_key_is_checked_after_authentication(kraliki_client):
    anonymous = await place(kraliki_client, {}, key="x" * 300)
    assert anonymous.status_code == 401


@pytest.mark.parametrize(
    ("failure", "status"),
    [(RuntimeError("boom"), 500), (ProblemError(CONFLICT, "out of widgets"), 409)],
    ids=["crash", "problem"],
)
async def test_a_failed_request_releases_its_key(
    kraliki_client, kraliki_platform, ana, acme, shop, failure, status
):
    shop.fail_with = failure
    failed = await place(kraliki_client, ana, key="order-1")
    assert failed.status_code == status
    assert await orders_placed(kraliki_platform, acme) == 0  # rolled back
    retried = await place(kraliki_client, ana, key="order-1")
    assert retried.status_code == 201, retried.text
    assert "idempotent-replayed" not in retried.headers
    assert shop.entered == 2
    assert await orders_placed(kraliki_platform, acme) == 1


async def test_an_answer_that_was_not_stored_frees_the_key(
    kraliki_client, kraliki_platform, ana, acme, shop
):
    shop.skip_complete = True
    assert (await place(kraliki_client, ana, key="order-1")).status_code == 204
    shop.skip_complete = False
    again = await place(kraliki_client, ana, key="order-1")
    assert again.status_code == 201
    assert "idempotent-replayed" not in again.headers


async def test_an_expired_key_acts_again(kraliki_client, kraliki_platform, ana, acme):
    first = await place(kraliki_client, ana, key="order-1")
    later(kraliki_platform, timedelta(hours=23, minutes=59))
    assert (await place(kraliki_client, ana, key="order-1")).headers["idempotent-replayed"]
    later(kraliki_platform, timedelta(hours=24, seconds=1))
    again = await place(kraliki_client, ana, key="order-1")
    assert again.status_code == 201
    assert "idempotent-replayed" not in again.headers
    assert again.json()["id"] != first.json()["id"]
    # Expired, the key is free for any request, not only the same one.
    later(kraliki_platform, timedelta(hours=48, seconds=2))
    assert (await place(kraliki_client, ana, key="order-1", quantity=5)).status_code == 201
    assert await orders_placed(kraliki_platform, acme) == 3


async def test_a_tenants_key_does_not_answer_for_another_tenant(
    kraliki_client, kraliki_platform, kraliki_make_tenant, kraliki_make_user, ana, acme
):
    globex = await kraliki_make_tenant("globex")
    await kraliki_make_user(globex, "gus@globex.example.com")
    gus = await login(kraliki_client, "gus@globex.example.com", tenant="globex")
    mine = await place(kraliki_client, ana, key="same-key")
    theirs = await place(kraliki_client, gus, key="same-key")
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert "idempotent-replayed" not in theirs.headers
    assert mine.json()["id"] != theirs.json()["id"]
    assert await orders_placed(kraliki_platform, acme) == 1
    assert await orders_placed(kraliki_platform, globex) == 1
    replayed = await place(kraliki_client, gus, key="same-key")
    assert replayed.json() == theirs.json()


async def test_two_copies_sent_at_once_act_once(kraliki_client, kraliki_platform, ana, acme, shop):
    """Both copies race for the key; the winner waits at the gate until the loser answered."""
    shop.hold = True
    answered: list[httpx.Response] = []

    async def send() -> httpx.Response:
        response = await place(kraliki_client, ana, key="race")
        answered.append(response)
        return response

    async def open_the_gate_once_one_answered() -> None:
        while not answered:  # noqa: ASYNC110 - nothing signals an answer
            await asyncio.sleep(0.01)
        shop.gate.set()

    first, second, _ = await asyncio.wait_for(
        asyncio.gather(send(), send(), open_the_gate_once_one_answered()), 30
    )
    busy, winner = answered
    assert busy.status_code == 409, busy.text
    assert busy.json()["type"] == "/problems/idempotency-request-in-progress"
    assert 55 <= int(busy.headers["retry-after"]) <= 60
    assert winner.status_code == 201
    assert sorted([first.status_code, second.status_code]) == [201, 409]
    assert shop.entered == 1
    replayed = await place(kraliki_client, ana, key="race")
    assert replayed.json() == winner.json()
    assert await orders_placed(kraliki_platform, acme) == 1


async def test_a_dead_holders_key_is_taken_over_once_its_lock_ran_out(
    kraliki_client, kraliki_platform, ana, acme, shop
):
    shop.hold = True
    stuck = asyncio.create_task(place(kraliki_client, ana, key="order-1"))
    while shop.entered == 0:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    busy = await place(kraliki_client, ana, key="order-1")
    assert busy.status_code == 409
    assert busy.json()["type"] == "/problems/idempotency-request-in-progress"

    shop.hold = False
    later(kraliki_platform, timedelta(seconds=61))  # past KRALIKI_IDEMPOTENCY_LOCK_SECONDS
    taken = await place(kraliki_client, ana, key="order-1")
    assert taken.status_code == 201, taken.text
    assert "idempotent-replayed" not in taken.headers

    # The first holder was alive after all: its work commits and it gets its own answer,
    # but the key keeps the answer of the request that took it over.
    shop.gate.set()
    late = await asyncio.wait_for(stuck, 15)
    assert late.status_code == 201
    replayed = await place(kraliki_client, ana, key="order-1")
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json() == taken.json() != late.json()
    assert shop.entered == 2
    assert await orders_placed(kraliki_platform, acme) == 2


async def test_the_header_is_documented_in_openapi(kraliki_app):
    operation = kraliki_app.openapi()["paths"][ORDERS]["post"]
    (header,) = [p for p in operation["parameters"] if p["in"] == "header"]
    assert header["name"] == "Idempotency-Key"
    assert header["required"] is False
    assert "Idempotent-Replayed" in header["description"]
