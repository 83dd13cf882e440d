"""Erasure of a contact (``kraliki_contact_erased``, a hook of the contacts plugin, which the
IVR does not require): the flow state of the contact's calls loses what the caller gave
(digits, words, values derived from them) and what effects reported; the path and the
outcome stay. Another caller's sessions and another organization's stay.

The contacts plugin is not loaded here: a stand-in declares the hook with the same signature
and the test calls it as the erasure would, in the tenant's scope with a session it commits.
"""

from __future__ import annotations

import json
import types
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import acme_texts
import httpx
import pytest
from ivr_helpers import IVR_ALL, flow
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, PluginInfo, __version__, hookimpl, hookspec, tenant_scope
from kernel.testing import app_client, create_tenant
from plugins.calls import PERMISSIONS as CALLS_PERMISSIONS
from plugins.calls import Call
from plugins.calls.testing import fakeline_plugin, fakeline_webhook, set_call_settings
from plugins.ivr.engine import FlowState
from plugins.ivr.erasure import erase_contact
from plugins.ivr.models import FlowSession

SECRET = "fakeline-signing-secret"
OURS = "+14155550100"
ALICE = "+14155550111"
BOB = "+14155550122"
SALES = "+15551230001"
PSEUDONYM = "erased-0123456789ab"
CALLS_ALL = tuple(p.key for p in CALLS_PERMISSIONS)

ACCOUNT_THEN_SALES = flow(
    "ask",
    ask={
        "type": "gather",
        "prompt": "Your account number, then hash.",
        "save_as": "account",
        "exits": {"next": "text", "no_input": "bye"},
    },
    text={
        "type": "acme_texts.text_link",
        "link": "https://pay.acme.example.com/{{ account }}",
        "exits": {"next": "sales"},
    },
    sales={"type": "transfer", "number": SALES},
    bye={"type": "hangup", "message": "Goodbye."},
)


class ErasureSpec:
    """The contacts plugin's hook, as ``plugins/contacts/hookspecs.py`` declares it."""

    @hookspec
    def kraliki_contact_erased(
        self,
        platform: Platform,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        contact_id: uuid.UUID,
        numbers: Sequence[str],
        emails: Sequence[str],
        pseudonym: str,
    ) -> Any:
        """Remove or pseudonymise what you hold about an erased contact."""


def contacts_stand_in() -> types.SimpleNamespace:
    plugin = types.SimpleNamespace(
        kraliki_plugin_info=hookimpl(
            lambda: PluginInfo(name="contacts_stand_in", version=__version__)
        ),
        kraliki_add_hookspecs=hookimpl(lambda: ErasureSpec),
    )
    plugin.__name__ = "contacts_stand_in"
    return plugin


@pytest.fixture
def kraliki_installed_plugins(kraliki_installed_plugins):
    """Without the real contacts plugin, should it be installed: the stand-in declares its
    hook (a hook declared twice stops the platform). Campaigns need contacts: they go too."""
    needing = {"contacts", "campaigns"}
    return [p for p in kraliki_installed_plugins if getattr(p, "entry_point", None) not in needing]


@pytest.fixture
def kraliki_extra_plugins():
    return [fakeline_plugin(), acme_texts, contacts_stand_in()]


@pytest.fixture
async def app(kraliki_make_app):
    return await kraliki_make_app(background_workers=False)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(app) as http:
        yield http


@pytest.fixture
def organization(app, client, kraliki_authenticate):
    """``await organization(slug)``: a tenant on fakeline running the flow from our number;
    the next requests come from one of its users."""

    async def make(slug: str) -> uuid.UUID:
        platform = app.state.platform
        tenant_id = await create_tenant(platform, slug)
        with tenant_scope(tenant_id):
            async with platform.database.session() as session:
                await platform.vault.put(session, "fakeline.signing_key", SECRET, actor="test")
                await session.commit()
        await set_call_settings(
            platform, tenant_id, primary_provider="fakeline", max_concurrent_calls=10
        )
        act_as(app, kraliki_authenticate, tenant_id)
        draft = {"name": "Main", "draft": ACCOUNT_THEN_SALES}
        created = await client.post("/api/v1/ivr/flows", json=draft)
        assert created.status_code == 201, created.text
        flow_id = created.json()["id"]
        published = await client.post(f"/api/v1/ivr/flows/{flow_id}/publish", json={})
        assert published.status_code == 201, published.text
        number = {"number": OURS, "provider": "fakeline", "route": "ivr", "ivr_flow_id": flow_id}
        routed = await client.post("/api/v1/calls/numbers", json=number)
        assert routed.status_code == 201, routed.text
        return tenant_id

    return make


def act_as(app, kraliki_authenticate, tenant_id: uuid.UUID) -> None:
    kraliki_authenticate(app, *IVR_ALL, *CALLS_ALL, kind="user", tenant_id=tenant_id)


async def webhook(client, tenant_id, event: dict[str, Any], kind: str) -> None:
    response = await fakeline_webhook(client, tenant_id, SECRET, [event], kind=kind)
    assert response.status_code == 200, response.text


async def through_the_flow(client, tenant_id: uuid.UUID, caller: str, account: str) -> str:
    """``caller`` calls, keys in ``account``, gets the link, is put through to sales and
    talks; returns the call's id."""
    sid = f"FL-{uuid.uuid4().hex[:8]}"
    ring = {"type": "needs", "call": sid, "reason": "inbound", "direction": "inbound"}
    await webhook(client, tenant_id, {**ring, "from": caller, "to": OURS}, "voice")
    gathered = {"type": "needs", "call": sid, "reason": "gathered", "digits": account}
    await webhook(client, tenant_id, gathered, "gather")
    dialed = {"type": "needs", "call": sid, "reason": "dialed", "dial_status": "completed"}
    await webhook(client, tenant_id, dialed, "gather")
    await webhook(
        client, tenant_id, {"type": "progress", "call": sid, "status": "completed"}, "status"
    )
    calls = (await client.get("/api/v1/calls", params={"number": caller})).json()["items"]
    return str(next(c["id"] for c in calls))


async def flow_session(platform, tenant_id, call_id: str) -> FlowSession:
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            found = await session.scalar(
                select(FlowSession).where(FlowSession.call_id == uuid.UUID(call_id))
            )
            assert found is not None
            return found


async def erase(platform: Platform, tenant_id: uuid.UUID, numbers: Sequence[str]) -> None:
    """What the contacts plugin's erasure does: every plugin's part, then one commit."""
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            await platform.hooks.collect(
                "kraliki_contact_erased",
                platform=platform,
                session=session,
                tenant_id=tenant_id,
                contact_id=uuid.uuid4(),
                numbers=list(numbers),
                emails=[],
                pseudonym=PSEUDONYM,
            )
            await session.commit()


def effects(call: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["detail"] for e in call["timeline"] if e["kind"] == "ivr.effect"]


async def test_erasure_of_a_contact_in_the_ivr(app, client, organization):
    platform = app.state.platform
    globex = await organization("globex")
    theirs = await through_the_flow(client, globex, ALICE, "555666")
    acme = await organization("acme")
    alices = await through_the_flow(client, acme, ALICE, "987654")
    bobs = await through_the_flow(client, acme, BOB, "111222")
    before = await flow_session(platform, acme, alices)
    assert before.state["variables"] == {"account": "987654"}
    assert before.state["outcome"]["detail"] == {"to": SALES}
    assert effects((await client.get(f"/api/v1/calls/{alices}")).json())[0]["result"]

    await erase(platform, acme, [ALICE])

    after = await flow_session(platform, acme, alices)
    assert after.state["variables"] == {}
    assert after.state["outcome"] == {"kind": "transferred", "node": "sales", "detail": {}}
    assert after.state["path"] == before.state["path"] == ["ask:next", "text:next", "sales:ended"]
    assert (after.status, after.outcome) == ("ended", "transferred")  # the statistics' part
    FlowState.model_validate(after.state)  # still a state the engine reads
    assert "987654" not in json.dumps(after.state)
    call = (await client.get(f"/api/v1/calls/{alices}")).json()
    assert call["from"] == PSEUDONYM  # calls erased its part in the same transaction
    assert effects(call) == [
        {"node": "text", "effect": "acme_texts.send_link", "outcome": "performed"}
    ]
    assert "987654" not in json.dumps(call)

    bob = await flow_session(platform, acme, bobs)
    assert bob.state["variables"] == {"account": "111222"}
    assert effects((await client.get(f"/api/v1/calls/{bobs}")).json())[0]["result"]
    other = await flow_session(platform, globex, theirs)
    assert other.state["variables"] == {"account": "555666"}

    await erase(platform, acme, [ALICE])  # a retried erasure changes nothing more
    again = await flow_session(platform, acme, alices)
    assert again.state == after.state


async def test_the_ivr_finds_the_calls_by_number_or_by_pseudonym(app, client, organization):
    """Whether or not ``calls`` replaced the numbers before the IVR's turn."""
    platform = app.state.platform
    acme = await organization("acme")
    by_number = await through_the_flow(client, acme, ALICE, "100200")
    by_pseudonym = await through_the_flow(client, acme, BOB, "300400")
    with tenant_scope(acme):
        async with platform.database.session() as session:
            await session.execute(
                update(Call).where(Call.id == uuid.UUID(by_pseudonym)).values(from_number=PSEUDONYM)
            )
            erased = await erase_contact(
                session, tenant_id=acme, numbers=[ALICE], pseudonym=PSEUDONYM
            )
            await session.commit()
    assert erased == 2
    for call_id in (by_number, by_pseudonym):
        assert (await flow_session(platform, acme, call_id)).state["variables"] == {}
    assert (await client.get(f"/api/v1/calls/{by_number}")).json()["from"] == ALICE
