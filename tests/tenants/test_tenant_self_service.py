"""What a tenant's own admins manage: /api/v1/tenant and /api/v1/tenant/plugins."""

from __future__ import annotations

import uuid
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends

from kernel import Permission, Principal, hookspec, require

NOTES_READ = Permission("notes", "read", "Read notes.", ("admin", "agent"))
notes_router = APIRouter()


@notes_router.get("")
async def list_notes(
    principal: Annotated[Principal, Depends(require("notes", "read"))],
) -> dict[str, str]:
    return {"tenant": str(principal.tenant_id)}


class EventSpecs:
    @hookspec
    def kraliki_note_added(self, tenant_id: uuid.UUID) -> None:
        """A test event."""


@pytest.fixture
def kraliki_extra_plugins(make_plugin):
    heard: list[tuple[str, uuid.UUID]] = []
    notes = make_plugin(
        "notes",
        permissions=[NOTES_READ],
        routers=[notes_router],
        add_hookspecs=lambda: EventSpecs,
        note_added=lambda tenant_id: heard.append(("notes", tenant_id)),
    )
    reminders = make_plugin(
        "reminders",
        requires=["notes"],
        note_added=lambda tenant_id: heard.append(("reminders", tenant_id)),
    )
    notes.heard = heard
    return [notes, reminders]


async def test_admins_read_and_change_settings(kraliki_client, create_tenant, owner_login):
    await create_tenant("acme")
    headers = await owner_login(kraliki_client, "acme")
    profile = (await kraliki_client.get("/api/v1/tenant", headers=headers)).json()
    assert profile["slug"] == "acme"
    assert profile["timezone"] == "UTC"
    changed = await kraliki_client.patch(
        "/api/v1/tenant",
        headers=headers,
        json={"name": "Acme Corp", "timezone": "Europe/Prague", "default_country": "CZ"},
    )
    assert changed.status_code == 200
    assert changed.json()["name"] == "Acme Corp"
    assert changed.json()["timezone"] == "Europe/Prague"
    bad = await kraliki_client.patch(
        "/api/v1/tenant", headers=headers, json={"timezone": "Mars/Olympus"}
    )
    assert bad.status_code == 422
    audit = (await kraliki_client.get("/api/v1/audit?action=tenant.", headers=headers)).json()
    assert [e["action"] for e in audit["items"]] == ["tenant.settings_changed"]


async def test_agents_read_but_cannot_change_settings(kraliki_client, create_tenant, owner_login):
    from kernel.testing import login

    await create_tenant("acme")
    headers = await owner_login(kraliki_client, "acme")
    await kraliki_client.post(
        "/api/v1/users",
        headers=headers,
        json={"email": "agent@acme.example.com", "password": "agent password 123"},
    )
    agent = await login(
        kraliki_client, "agent@acme.example.com", "agent password 123", tenant="acme"
    )
    assert (await kraliki_client.get("/api/v1/tenant", headers=agent)).status_code == 200
    response = await kraliki_client.patch("/api/v1/tenant", headers=agent, json={"name": "x"})
    assert response.status_code == 403


async def test_a_disabled_plugin_answers_404_for_that_tenant_only(
    kraliki_client, kraliki_platform, create_tenant, owner_login
):
    await create_tenant("acme")
    await create_tenant("beta")
    acme = await owner_login(kraliki_client, "acme")
    beta = await owner_login(kraliki_client, "beta")
    assert (await kraliki_client.get("/api/v1/notes", headers=acme)).status_code == 200
    # reminders requires notes: disable it first
    refused = await kraliki_client.put(
        "/api/v1/tenant/plugins/notes", headers=acme, json={"enabled": False}
    )
    assert refused.status_code == 409
    assert refused.json()["required_by"] == ["reminders"]
    for name in ("reminders", "notes"):
        response = await kraliki_client.put(
            f"/api/v1/tenant/plugins/{name}", headers=acme, json={"enabled": False}
        )
        assert response.status_code == 200
        assert response.json()["enabled"] is False
    hidden = await kraliki_client.get("/api/v1/notes", headers=acme)
    assert hidden.status_code == 404
    assert hidden.json()["type"] == "/problems/not-found"
    assert (await kraliki_client.get("/api/v1/notes", headers=beta)).status_code == 200
    states = (await kraliki_client.get("/api/v1/tenant/plugins", headers=acme)).json()
    loaded = [p for p in kraliki_platform.plugins.plugins if not p.core]
    assert {s["name"]: s["enabled"] for s in states} == {
        **{plugin.info.name: True for plugin in loaded},
        "notes": False,
        "reminders": False,
    }
    # enabling reminders before notes is refused; in order it works
    early = await kraliki_client.put(
        "/api/v1/tenant/plugins/reminders", headers=acme, json={"enabled": True}
    )
    assert early.status_code == 409
    await kraliki_client.put("/api/v1/tenant/plugins/notes", headers=acme, json={"enabled": True})
    assert (await kraliki_client.get("/api/v1/notes", headers=acme)).status_code == 200
    audit = (await kraliki_client.get("/api/v1/audit?action=tenant.", headers=acme)).json()
    assert [e["action"] for e in audit["items"]] == [
        "tenant.plugin_enabled",
        "tenant.plugin_disabled",
        "tenant.plugin_disabled",
    ]


async def test_core_components_and_unknown_plugins_cannot_be_toggled(
    kraliki_client, create_tenant, owner_login
):
    await create_tenant("acme")
    acme = await owner_login(kraliki_client, "acme")
    for name in ("tenants", "nope"):
        response = await kraliki_client.put(
            f"/api/v1/tenant/plugins/{name}", headers=acme, json={"enabled": False}
        )
        assert response.status_code == 404
        assert response.json()["type"] == "/problems/unknown-plugin"


async def test_tenant_events_skip_plugins_the_tenant_disabled(
    kraliki_client, kraliki_platform, kraliki_extra_plugins, create_tenant, owner_login
):
    acme = uuid.UUID((await create_tenant("acme"))["id"])
    beta = uuid.UUID((await create_tenant("beta"))["id"])
    headers = await owner_login(kraliki_client, "acme")
    await kraliki_client.put(
        "/api/v1/tenant/plugins/reminders", headers=headers, json={"enabled": False}
    )
    heard = kraliki_extra_plugins[0].heard
    await kraliki_platform.notify_tenant("kraliki_note_added", acme)
    await kraliki_platform.notify_tenant("kraliki_note_added", beta)
    assert heard == [("notes", acme), ("notes", beta), ("reminders", beta)]
