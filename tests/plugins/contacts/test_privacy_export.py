"""A contact's data export: everything the contacts plugin holds about it, and what calls
(and every other plugin implementing ``kraliki_contact_data``) holds, audited."""

from __future__ import annotations

import uuid

import pytest
from privacy_helpers import EMAIL, NUMBER, seed_contact
from timeline_helpers import add_contact

from kernel.testing import audit_events, login


@pytest.fixture
def kraliki_extra_plugins(make_plugin):
    """A plugin of an integrator holding something about contacts (by e-mail)."""

    def contact_data(tenant_id, contact_id, numbers, emails):
        if not emails:
            return None
        return {"tickets": [{"from": email, "subject": "Refund"} for email in emails]}

    return [make_plugin("helpdesk", requires=["contacts"], contact_data=contact_data)]


@pytest.fixture
async def alpha(kraliki_make_owner):
    return await kraliki_make_owner("alpha")


async def test_the_export_holds_everything_about_the_contact(
    kraliki_platform, kraliki_client, alpha
):
    seeded = await seed_contact(kraliki_platform, alpha.tenant_id)
    other = await add_contact(kraliki_platform, alpha.tenant_id, "Bob", numbers=["+14155550999"])

    response = await kraliki_client.get(
        f"/api/v1/contacts/{seeded.contact_id}/export", headers=alpha.headers
    )
    assert response.status_code == 200, response.text
    data = response.json()
    contact = data["contact"]
    assert (contact["id"], contact["name"], contact["company"]) == (
        str(seeded.contact_id),
        "Ada Lovelace",
        "Analytical Engines",
    )
    assert contact["custom_fields"] == {"account": "A-42"}
    assert contact["external_id"] == "crm-42"
    assert "tenant_id" not in contact
    assert [row["number"] for row in data["numbers"]] == [NUMBER]
    assert [row["email"] for row in data["emails"]] == [EMAIL]
    assert data["tags"] == ["vip"]
    [interaction] = data["interactions"]
    assert (interaction["call_id"], interaction["notes"]) == (
        str(seeded.call_id),
        "Prefers mornings",
    )
    assert [(c["purpose"], c["action"]) for c in data["consents"]] == [("marketing", "revoked")]
    assert [(d["value"], d["reason"]) for d in data["dnc"]] == [(NUMBER, "asked")]
    assert [s["name"] for s in data["segments"]] == ["VIPs"]
    [call] = data["plugins"]["calls"]["calls"]
    assert (call["id"], call["to"], call["notes"], call["disposition"]) == (
        str(seeded.call_id),
        NUMBER,
        "Prefers mornings",
        "callback",
    )
    assert [segment["text"] for segment in call["transcript"]] == ["It is Ada here"]
    assert data["plugins"]["helpdesk"] == {"tickets": [{"from": EMAIL, "subject": "Refund"}]}
    assert str(other) not in response.text
    assert "+14155550999" not in response.text

    [audited] = await audit_events(
        kraliki_platform, alpha.tenant_id, action="contacts.contact_exported"
    )
    assert audited.target_id == str(seeded.contact_id)
    assert NUMBER not in str(audited.details)


async def test_a_contact_without_calls_exports_without_plugin_data(
    kraliki_platform, kraliki_client, alpha
):
    lonely = await add_contact(kraliki_platform, alpha.tenant_id, "Cid")
    data = (
        await kraliki_client.get(f"/api/v1/contacts/{lonely}/export", headers=alpha.headers)
    ).json()
    assert data["contact"]["name"] == "Cid"
    assert data["numbers"] == []
    assert data["plugins"] == {}


async def test_exporting_needs_contacts_export_and_a_contact_of_ones_own(
    kraliki_platform, kraliki_client, alpha, kraliki_make_user, kraliki_make_owner
):
    beta = await kraliki_make_owner("beta")
    theirs = await seed_contact(kraliki_platform, beta.tenant_id)
    for contact_id in (theirs.contact_id, uuid.uuid4()):
        response = await kraliki_client.get(
            f"/api/v1/contacts/{contact_id}/export", headers=alpha.headers
        )
        assert response.status_code == 404, response.text
        assert NUMBER not in response.text
    await kraliki_make_user(alpha.tenant_id, "agent@alpha.example.com", roles=["agent"])
    agent = await login(kraliki_client, "agent@alpha.example.com", tenant="alpha")
    mine = await add_contact(kraliki_platform, alpha.tenant_id)
    refused = await kraliki_client.get(f"/api/v1/contacts/{mine}/export", headers=agent)
    assert refused.status_code == 403, refused.text
