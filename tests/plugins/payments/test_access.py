"""Who may do what, and one organization never reaching another's payments."""

from __future__ import annotations

import uuid

import httpx
import pytest
from payments_suite import last_hour, ok, organization, pay, pay_at_the_processor, reconcile

from kernel import tenant_scope
from kernel.testing import assert_rls_enabled, assert_tenant_isolation
from plugins.payments import AgentCapture

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

BODY = {"amount": 100, "currency": "eur", "payment_method": "pm_card_visa"}


@pytest.mark.parametrize(
    ("role", "all_", "creates", "refunds", "settles", "reconciles"),
    [
        ("admin", True, True, True, True, True),
        ("supervisor", True, True, True, False, False),
        ("agent", False, True, False, False, False),
        ("integrator", True, False, False, False, True),
    ],
)
async def test_permissions_per_role(
    payments, kraliki_make_owner, role, all_, creates, refunds, settles, reconciles
):
    acme = await organization(payments, kraliki_make_owner, "acme")
    paid = await pay(acme.api, 1000)  # the owner's
    api = await payments.user(acme, role)

    def allowed(response, yes: bool, status: int = 200, no: int = 403) -> None:
        assert response.status_code == (status if yes else no), response.text

    assert (await api.get("/payments")).status_code == 200
    assert (await api.get("/payments/export.csv")).status_code == 200
    assert (await api.get("/payments/settings")).status_code == 200
    allowed(await api.get(f"/payments/{paid['id']}"), all_, no=404)
    made = await api.post("/payments", json=BODY)
    allowed(made, creates, 201)
    if creates:
        assert made.json()["created_by"] == f"{role}-0@acme.example.com"
        assert made.json()["agent_id"] is not None
        assert (await api.get(f"/payments/{made.json()['id']}")).status_code == 200
    allowed(await api.post(f"/payments/{paid['id']}/refunds", json={"amount": 10}), refunds, 201)
    settings = await ok(await acme.api.get("/payments/settings"))
    allowed(
        await api.put(
            "/payments/settings",
            json={k: settings[k] for k in ("processor", "default_currency")},
        ),
        settles,
    )
    allowed(await api.get("/payments/reconciliations"), all_)
    allowed(await api.post("/payments/reconciliations", json=last_hour()), reconciles, 202)


async def test_an_agent_sees_only_the_payments_they_took(payments, kraliki_make_owner):
    acme = await organization(payments, kraliki_make_owner, "acme")
    agent = await payments.user(acme, "agent")
    theirs = await pay(agent, 700, description="taken by the agent")
    others = await pay(acme.api, 900, description="taken by the owner")

    listed = (await ok(await agent.get("/payments")))["items"]
    assert [p["id"] for p in listed] == [theirs["id"]]
    assert (await agent.get(f"/payments/{others['id']}")).status_code == 404
    exported = (await agent.get("/payments/export.csv")).text
    assert theirs["id"] in exported
    assert others["id"] not in exported

    supervisor = await payments.user(acme, "supervisor")
    everything = (await ok(await supervisor.get("/payments")))["items"]
    assert {p["id"] for p in everything} == {theirs["id"], others["id"]}


async def test_no_credentials_no_payments(payments):
    anonymous = await payments.client({})
    assert (await anonymous.get("/payments")).status_code == 401
    assert (await anonymous.post("/payments", json=BODY)).status_code == 401


async def test_settings_changes_check_if_match(payments, kraliki_make_owner):
    acme = await organization(payments, kraliki_make_owner, "acme")
    read = await acme.api.get("/payments/settings")
    etag = read.headers["etag"]
    body = {"processor": "stripe", "default_currency": "usd", "refund_approval_threshold": 5}
    changed = await acme.api.put("/payments/settings", json=body, headers={"If-Match": etag})
    assert changed.status_code == 200
    assert changed.json()["default_currency"] == "usd"
    stale = await acme.api.put("/payments/settings", json=body, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert stale.json()["type"] == "/problems/payments-settings-conflict"


async def capture_under_way(payments, org, payment_id: uuid.UUID) -> None:
    """An agent-assisted capture of the organization's, as the capture API writes one (this
    app has no telephony provider to open one through)."""
    with tenant_scope(org.tenant_id):
        async with payments.app.state.platform.database.session() as session:
            session.add(
                AgentCapture(
                    payment_id=payment_id,
                    call_id=uuid.uuid4(),
                    provider="twilio",
                    provider_session_id=f"PK{org.slug}",
                    status="capturing",
                    field="payment-card-number",
                    fields={"payment-card-number": {"digits": 16, "masked": "xxxxxxxxxxxx4242"}},
                    required=["expiration-date"],
                    steps=1,
                )
            )
            await session.commit()


async def test_organizations_never_reach_each_others_payments(payments, kraliki_make_owner):
    acme = await organization(payments, kraliki_make_owner, "acme")
    globex = await organization(payments, kraliki_make_owner, "globex", threshold=100)
    for org in (acme, globex):
        paid = await pay(org.api, 1000, description=f"order of {org.slug}")
        await ok(await org.api.post(f"/payments/{paid['id']}/refunds", json={"amount": 500}), 201)
        if org is globex:
            await capture_under_way(payments, org, uuid.UUID(paid["id"]))
    await pay_at_the_processor(payments, globex, 4200)  # a difference for globex's run
    run = await reconcile(payments, globex)
    assert run["differences"] == 1
    await payments.stand_in.drain()  # webhooks seen: every table of the plugin has rows

    async with httpx.AsyncClient(base_url=payments.url, timeout=60) as client:
        owner_headers = dict(acme.api.headers)
        requests = await assert_tenant_isolation(
            payments.app,
            client,
            attacker={"Authorization": owner_headers["authorization"]},
            victim=globex.tenant_id,
            plugin="payments",
            victim_names=["order of globex"],
        )
    assert requests > 0
    await assert_rls_enabled(payments.app.state.platform, plugin="payments")
