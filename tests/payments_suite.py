"""Shared by the payments and stripe tests: an app with the payments and stripe plugins,
served on loopback, the Stripe stand-in its processor (set before the app is built), and
organizations that bring their own Stripe keys through the vault API."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import stripe
from fastapi import FastAPI
from sqlalchemy import inspect, select

from kernel import Base, add_user, tenant_scope
from kernel.testing import DEFAULT_TEST_PASSWORD, installed_plugin, login, serve_app
from plugins.stripe.testing import Account, StripeStandIn

PLUGINS = ("payments", "stripe")


@dataclass
class Org:
    """An organization with its owner's client on ``/api/v1`` and its Stripe account."""

    slug: str
    tenant_id: uuid.UUID
    api: httpx.AsyncClient
    account: Account
    users: dict[str, httpx.AsyncClient] = field(default_factory=dict)


@dataclass
class Payments:
    app: FastAPI
    url: str
    stand_in: StripeStandIn
    orgs: dict[str, Org] = field(default_factory=dict)
    stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    async def client(self, headers: dict[str, str]) -> httpx.AsyncClient:
        return await self.stack.enter_async_context(
            httpx.AsyncClient(base_url=f"{self.url}/api/v1", headers=headers, timeout=60)
        )

    async def user(self, org: Org, role: str) -> httpx.AsyncClient:
        """A client of a new user with ``role`` in ``org`` (one per role and org)."""
        if role in org.users:
            return org.users[role]
        platform = self.app.state.platform
        email = f"{role}-{len(org.users)}@{org.slug}.example.com"
        with tenant_scope(org.tenant_id):
            async with platform.database.session() as session:
                await add_user(session, email=email, password=DEFAULT_TEST_PASSWORD, roles=[role])
                await session.commit()
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as anonymous:
            headers = await login(anonymous, email, DEFAULT_TEST_PASSWORD, tenant=org.slug)
        org.users[role] = await self.client(headers)
        return org.users[role]


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{slug}", body
    return body


@pytest.fixture
def kraliki_installed_plugins() -> list[object]:
    return [installed_plugin(name) for name in PLUGINS]


@pytest.fixture
def kraliki_extra_plugins() -> list[object]:
    return []


@pytest.fixture
async def stand_in(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[StripeStandIn]:
    """Started before the app, which reads ``KRALIKI_STRIPE_BASE_URL`` when it is built."""
    async with StripeStandIn() as running:
        monkeypatch.setenv("KRALIKI_STRIPE_BASE_URL", running.url)
        yield running


@pytest.fixture
async def payments(stand_in: StripeStandIn, kraliki_make_app: Any) -> AsyncIterator[Payments]:
    """Two attempts of one second each per processor call: a slow processor is quick to
    test; no background workers (events are read from the outbox)."""
    app = await kraliki_make_app(
        background_workers=False, outbound_attempts=2, outbound_timeout_seconds=1.0
    )
    async with contextlib.AsyncExitStack() as stack:
        url = await stack.enter_async_context(serve_app(app))
        found = Payments(app, url, stand_in)
        async with found.stack:
            yield found


async def organization(
    payments: Payments,
    make_owner: Any,
    slug: str,
    *,
    account: Account | None = None,
    threshold: int | None = None,
) -> Org:
    """An organization whose owner stored its own Stripe keys and chose Stripe."""
    owner = await make_owner(slug)
    api = await payments.client(owner.headers)
    stripe_account = account or (
        payments.stand_in.account if not payments.orgs else payments.stand_in.add_account()
    )
    stripe_account.webhook_url = f"{payments.url}/webhooks/stripe/{owner.tenant_id}"
    for name, value in (
        ("stripe.secret_key", stripe_account.api_key),
        ("stripe.webhook_secret", stripe_account.webhook_secret),
    ):
        stored = await api.put(f"/vault/secrets/{name}", json={"value": value})
        assert stored.status_code in (200, 201), stored.text
    await ok(
        await api.put(
            "/payments/settings",
            json={
                "processor": "stripe",
                "default_currency": "eur",
                "refund_approval_threshold": threshold,
            },
        )
    )
    org = Org(slug, owner.tenant_id, api, stripe_account)
    payments.orgs[slug] = org
    return org


async def pay(api: httpx.AsyncClient, amount: int = 1500, **fields: Any) -> dict[str, Any]:
    body = {"amount": amount, "currency": "eur", "payment_method": "pm_card_visa"} | fields
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    answered: dict[str, Any] = await ok(
        await api.post("/payments", json=body, headers=headers), 201
    )
    return answered


def last_hour() -> dict[str, str]:
    now = datetime.now(UTC)
    return {"start": (now - timedelta(hours=1)).isoformat(), "end": now.isoformat()}


async def reconcile(payments: Any, org: Org, period: dict[str, str] | None = None) -> dict:
    """Ask for a run over ``period`` (default: the last hour), let the job do it, read it."""
    asked = await org.api.post("/payments/reconciliations", json=period or last_hour())
    run = await ok(asked, 202)
    assert run["status"] == "queued"
    assert asked.headers["location"] == f"/api/v1/payments/reconciliations/{run['id']}"
    platform = payments.app.state.platform
    await platform.jobs.run_due(platform)
    # The worker of the other app on this database (kraliki_make_owner's) may have the job.
    for _ in range(500):
        done: dict = await ok(await org.api.get(f"/payments/reconciliations/{run['id']}"))
        if done["status"] in ("completed", "failed"):
            return done
        await asyncio.sleep(0.02)
    raise AssertionError(f"the reconciliation did not finish: {done}")


def stripe_of(payments: Any, org: Org) -> stripe.StripeClient:
    """The organization's own Stripe account, used directly (as its staff would in the
    processor's dashboard)."""
    return stripe_client(payments.stand_in, org.account)


def stripe_client(stand_in: StripeStandIn, account: Account) -> stripe.StripeClient:
    return stripe.StripeClient(
        account.api_key,
        base_addresses=stand_in.base_addresses,  # type: ignore[arg-type]
        max_network_retries=0,
    )


async def pay_at_the_processor(
    payments: Payments, org: Org, amount: int, currency: str = "eur"
) -> Any:
    """A payment taken in the organization's Stripe account, not through the platform."""
    return await charge_at_stripe(payments.stand_in, org.account, amount, currency)


async def charge_at_stripe(
    stand_in: StripeStandIn, account: Account, amount: int, currency: str = "eur"
) -> Any:
    """A confirmed PaymentIntent of a test Visa in ``account`` (as its staff, or a telephony
    provider's Stripe connector, would make it)."""
    return await stripe_client(stand_in, account).v1.payment_intents.create_async(
        {
            "amount": amount,
            "currency": currency,
            "payment_method": "pm_card_visa",
            "confirm": True,
            "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
        }
    )


async def rows_holding(app: FastAPI, tenant: uuid.UUID, needle: str) -> list[str]:
    """Every table (the organization's rows, and the shared ones) whose rows hold ``needle``
    anywhere in their text."""
    platform = app.state.platform
    async with platform.database.engine.connect() as connection:
        present = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    found = []
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            for mapper in Base.registry.mappers:
                if mapper.persist_selectable.description not in present:
                    continue  # a plugin this app does not load
                model = mapper.class_
                columns = [column.key for column in mapper.column_attrs]
                rows = await session.execute(select(*(getattr(model, c) for c in columns)))
                if any(needle in str(tuple(row)) for row in rows):
                    found.append(mapper.local_table.name)
    return found


# --- payments over the phone: Twilio (its double) and Stripe (its stand-in) ----------------

TELEPHONY_PLUGINS = ("calls", "ivr", "loopback", "twilio", "payments", "stripe")


@pytest.fixture
async def double() -> AsyncIterator[Any]:
    from plugins.twilio.testing import TwilioDouble

    async with TwilioDouble() as server:
        yield server


@pytest.fixture
async def phone_app(
    kraliki_make_app: Any, double: Any, stand_in: StripeStandIn, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FastAPI]:
    """The platform served on loopback, talking to the Twilio double and the Stripe stand-in
    (its callbacks reach it; no background workers: a test runs the jobs it needs)."""
    from plugins.calls.testing import served_platform

    monkeypatch.setenv("KRALIKI_LOOPBACK_TIME_SCALE", "0.01")
    environment = double.environment() | {"KRALIKI_STRIPE_BASE_URL": stand_in.url}
    async with served_platform(
        kraliki_make_app, monkeypatch, environment, background_workers=False
    ) as app:
        yield app


async def phone_organization(
    app: FastAPI, double: Any, stand_in: StripeStandIn, authenticate: Any, subject: str | None
) -> uuid.UUID:
    """An organization on Twilio (the double's first account) with its Stripe keys, and
    requests acting as ``subject``, a user holding every permission."""
    from kernel.testing import create_tenant
    from plugins.calls.testing import store_secrets
    from plugins.twilio.testing import use_twilio

    platform = app.state.platform
    tenant_id = await create_tenant(platform, "acme")
    every = [platform.permissions.get(name).key for name in platform.permissions]
    authenticate(app, *every, kind="user", tenant_id=tenant_id, subject=subject)
    await use_twilio(platform, tenant_id, double, max_concurrent_calls=10)
    await store_secrets(
        platform,
        tenant_id,
        {
            "stripe.secret_key": stand_in.account.api_key,
            "stripe.webhook_secret": stand_in.account.webhook_secret,
        },
    )
    stand_in.account.webhook_url = f"{app.state.public_url}/webhooks/stripe/{tenant_id}"
    return tenant_id
