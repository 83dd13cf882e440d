"""The consent ledger over HTTP: appending lines about a contact or a number, reading the
ledger and the current state derived from it, the contact's own opt-out, the calling rules,
and who may do what."""

from __future__ import annotations

from datetime import timedelta

import pytest
from compliance_helpers import (
    DNC,
    SETTINGS,
    contact_url,
    decide,
    make_contact,
    record_consent,
    user_headers,
)

from kernel import utcnow
from kernel.testing import audit_events, published_events

JANE = ("+14155550100", "+14155550101")


@pytest.fixture
async def alpha(kraliki_make_owner):
    return await kraliki_make_owner("alpha")


@pytest.fixture
async def jane(kraliki_client, alpha):
    return await make_contact(kraliki_client, alpha.headers, *JANE)


def state_of(states: list[dict], purpose: str, channel: str) -> dict:
    [state] = [s for s in states if s["purpose"] == purpose and s["channel"] == channel]
    return state


async def current(client, headers, contact_id, **params) -> list[dict]:
    response = await client.get(contact_url(contact_id, "/consent"), params=params, headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["states"])


async def test_a_grant_is_recorded_published_and_derived(
    kraliki_client, kraliki_platform, alpha, jane
):
    line = await record_consent(
        kraliki_client,
        alpha.headers,
        jane,
        "marketing",
        "prerecorded_voice",
        "granted",
        source="web_form",
        evidence="https://forms.example.com/submissions/42",
    )

    assert line["contact_id"] == str(jane)
    assert line["number"] == ""
    assert line["recorded_by"] == alpha.email
    states = await current(kraliki_client, alpha.headers, jane)
    granted = state_of(states, "marketing", "prerecorded_voice")
    assert granted == {
        "purpose": "marketing",
        "channel": "prerecorded_voice",
        "required": True,
        "state": "granted",
        "opted_out": False,
        "record_id": line["id"],
        "occurred_at": line["occurred_at"],
    }
    assert state_of(states, "marketing", "text")["state"] == "none"
    assert state_of(states, "informational", "voice_call")["required"] is False
    events = await published_events(kraliki_platform, alpha.tenant_id)
    assert [p for n, p in events if n == "contacts.consent.granted"] == [
        {
            "record_id": line["id"],
            "contact_id": str(jane),
            "purpose": "marketing",
            "channel": "prerecorded_voice",
            "source": "web_form",
        }
    ]


async def test_revoke_then_grant_again_the_newest_line_wins(
    kraliki_client, kraliki_platform, alpha, jane
):
    grant = await record_consent(
        kraliki_client, alpha.headers, jane, "marketing", "text", "granted"
    )
    revoke = await record_consent(
        kraliki_client, alpha.headers, jane, "marketing", "text", "revoked"
    )
    state = state_of(await current(kraliki_client, alpha.headers, jane), "marketing", "text")
    assert (state["state"], state["record_id"]) == ("revoked", revoke["id"])
    decision = await decide(
        kraliki_platform, alpha.tenant_id, JANE[0], "marketing", "text", contact_id=jane
    )
    assert (decision.rule, str(decision.consent_record_id)) == ("consent-revoked", revoke["id"])

    regrant = await record_consent(
        kraliki_client, alpha.headers, jane, "marketing", "text", "granted"
    )

    state = state_of(await current(kraliki_client, alpha.headers, jane), "marketing", "text")
    assert (state["state"], state["record_id"]) == ("granted", regrant["id"])
    decision = await decide(
        kraliki_platform, alpha.tenant_id, JANE[0], "marketing", "text", contact_id=jane
    )
    assert decision.allowed
    assert str(decision.consent_record_id) == regrant["id"]
    page = await kraliki_client.get(contact_url(jane, "/consents"), headers=alpha.headers)
    assert [line["id"] for line in page.json()["items"]] == [
        regrant["id"],
        revoke["id"],
        grant["id"],
    ]
    revoked = [n for n, _ in await published_events(kraliki_platform, alpha.tenant_id)]
    assert revoked.count("contacts.consent.revoked") == 1


async def test_when_it_happened_decides_not_when_it_was_recorded(kraliki_client, alpha, jane):
    now = utcnow()
    await record_consent(
        kraliki_client,
        alpha.headers,
        jane,
        "surveys",
        "text",
        "revoked",
        occurred_at=(now - timedelta(days=1)).isoformat(),
    )
    older = await record_consent(
        kraliki_client,
        alpha.headers,
        jane,
        "surveys",
        "text",
        "granted",
        occurred_at=(now - timedelta(days=30)).isoformat(),
        source="import",
    )

    state = state_of(await current(kraliki_client, alpha.headers, jane), "surveys", "text")

    assert state["state"] == "revoked"  # the grant from a month ago was recorded late
    assert state["record_id"] != older["id"]


async def test_a_line_about_one_number(kraliki_client, kraliki_platform, alpha, jane):
    line = await record_consent(
        kraliki_client,
        alpha.headers,
        jane,
        "debt_collection",
        "prerecorded_voice",
        "granted",
        number="(415) 555-0101",
    )

    assert line["number"] == JANE[1]
    on_it = await current(kraliki_client, alpha.headers, jane, number=JANE[1])
    elsewhere = await current(kraliki_client, alpha.headers, jane, number=JANE[0])
    assert state_of(on_it, "debt_collection", "prerecorded_voice")["state"] == "granted"
    assert state_of(elsewhere, "debt_collection", "prerecorded_voice")["state"] == "none"
    assert (
        await decide(
            kraliki_platform,
            alpha.tenant_id,
            JANE[1],
            "debt_collection",
            "prerecorded_voice",
            contact_id=jane,
        )
    ).allowed
    refused = await decide(
        kraliki_platform,
        alpha.tenant_id,
        JANE[0],
        "debt_collection",
        "prerecorded_voice",
        contact_id=jane,
    )
    assert refused.rule == "no-consent"


async def test_a_line_about_a_number_without_a_contact(kraliki_client, kraliki_platform, alpha):
    response = await kraliki_client.post(
        "/api/v1/contacts/consents",
        json={
            "number": "415 555 0199",
            "purpose": "marketing",
            "channel": "voice_call",
            "action": "granted",
            "source": "ivr",
            "evidence": "pressed 1",
        },
        headers=alpha.headers,
    )

    assert response.status_code == 201, response.text
    assert response.json()["contact_id"] is None
    assert response.json()["number"] == "+14155550199"
    decision = await decide(kraliki_platform, alpha.tenant_id, "+14155550199", "marketing")
    assert decision.allowed
    assert str(decision.consent_record_id) == response.json()["id"]
    # A contact holding that number inherits it.
    contact = await make_contact(kraliki_client, alpha.headers, "+14155550199")
    decision = await decide(
        kraliki_platform, alpha.tenant_id, "+14155550199", "marketing", contact_id=contact
    )
    assert decision.allowed


@pytest.mark.parametrize(
    ("body", "status", "slug"),
    [
        ({"purpose": "lottery"}, 422, "contacts-invalid-consent"),
        ({"purpose": "all", "channel": "all"}, 422, "contacts-invalid-consent"),
        ({"channel": "all"}, 422, "contacts-invalid-consent"),
        ({"channel": "fax"}, 422, "validation-error"),
        ({"action": "maybe"}, 422, "validation-error"),
        ({"source": "rumour"}, 422, "validation-error"),
        ({"number": "+14155550999"}, 422, "contacts-number-not-of-contact"),
        ({"number": "nope"}, 422, "contacts-invalid-consent"),
        ({"occurred_at": "2999-01-01T00:00:00Z"}, 422, "contacts-invalid-consent"),
    ],
)
async def test_a_bad_line_is_refused(kraliki_client, alpha, jane, body, status, slug):
    full = {"purpose": "marketing", "channel": "text", "action": "granted", "source": "api", **body}

    response = await kraliki_client.post(
        contact_url(jane, "/consents"), json=full, headers=alpha.headers
    )

    assert response.status_code == status, response.text
    assert response.json()["type"].endswith(f"/{slug}")
    page = await kraliki_client.get(contact_url(jane, "/consents"), headers=alpha.headers)
    assert page.json()["items"] == []


async def test_an_unknown_contact_is_404(kraliki_client, kraliki_make_owner, alpha, jane):
    beta = await kraliki_make_owner("beta")
    body = {"purpose": "marketing", "channel": "text", "action": "granted", "source": "api"}
    for method, path, json in [
        ("POST", "/consents", body),
        ("GET", "/consents", None),
        ("GET", "/consent", None),
        ("POST", "/opt-out", {}),
    ]:
        response = await kraliki_client.request(
            method, contact_url(jane, path), json=json, headers=beta.headers
        )
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["type"].endswith("/contacts-consent-contact-not-found")


async def test_the_ledger_pages_newest_first(kraliki_client, alpha, jane):
    ids = [
        (
            await record_consent(
                kraliki_client,
                alpha.headers,
                jane,
                "marketing",
                "text",
                "granted" if i % 2 else "revoked",
            )
        )["id"]
        for i in range(5)
    ]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await kraliki_client.get(
            contact_url(jane, "/consents"), params=params, headers=alpha.headers
        )
        seen += [line["id"] for line in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]


async def test_an_opt_out_revokes_everything_and_lists_every_number(
    kraliki_client, kraliki_platform, alpha, jane
):
    await record_consent(kraliki_client, alpha.headers, jane, "marketing", "voice_call", "granted")

    response = await kraliki_client.post(
        contact_url(jane, "/opt-out"),
        json={"source": "agent", "evidence": "said 'never call me' on call 17"},
        headers=alpha.headers,
    )

    assert response.status_code == 201, response.text
    out = response.json()
    assert (out["consent"]["purpose"], out["consent"]["channel"]) == ("all", "all")
    assert out["consent"]["action"] == "revoked"
    assert sorted(e["value"] for e in out["dnc_entries"]) == list(JANE)
    assert {e["source"] for e in out["dnc_entries"]} == {"agent"}
    states = await current(kraliki_client, alpha.headers, jane)
    assert all(s["state"] == "revoked" and s["opted_out"] for s in states)
    decision = await decide(
        kraliki_platform, alpha.tenant_id, JANE[0], "marketing", contact_id=jane
    )
    assert decision.rule == "dnc-number"
    [audit] = await audit_events(kraliki_platform, alpha.tenant_id, "contacts.contact.opted-out")
    assert audit.target_id == str(jane)

    # Without the do-not-call entries, the ledger alone still refuses...
    for entry in out["dnc_entries"]:
        removed = await kraliki_client.delete(f"{DNC}/{entry['id']}", headers=alpha.headers)
        assert removed.status_code == 204
    decision = await decide(
        kraliki_platform, alpha.tenant_id, JANE[0], "informational", contact_id=jane
    )
    assert (decision.rule, str(decision.consent_record_id)) == ("opted-out", out["consent"]["id"])
    # ... until the person explicitly opts in again, for one purpose and channel.
    await record_consent(
        kraliki_client,
        alpha.headers,
        jane,
        "informational",
        "voice_call",
        "granted",
        evidence="asked to be called back",
    )
    assert (
        await decide(kraliki_platform, alpha.tenant_id, JANE[0], "informational", contact_id=jane)
    ).allowed
    assert (
        await decide(
            kraliki_platform, alpha.tenant_id, JANE[0], "informational", "text", contact_id=jane
        )
    ).rule == "opted-out"


async def test_an_opt_out_without_the_list(kraliki_client, kraliki_platform, alpha, jane):
    response = await kraliki_client.post(
        contact_url(jane, "/opt-out"),
        json={"source": "web_form", "add_to_dnc": False},
        headers=alpha.headers,
    )

    assert response.status_code == 201, response.text
    assert response.json()["dnc_entries"] == []
    assert (await decide(kraliki_platform, alpha.tenant_id, JANE[1], contact_id=jane)).rule == (
        "opted-out"
    )


async def test_the_calling_rules_default_strict_and_can_be_replaced(
    kraliki_client, kraliki_platform, alpha
):
    defaults = await kraliki_client.get(SETTINGS, headers=alpha.headers)
    assert defaults.status_code == 200, defaults.text
    purposes = {p["name"]: p for p in defaults.json()["purposes"]}
    assert purposes["marketing"]["channels"] == ["voice_call", "prerecorded_voice", "text"]
    assert purposes["informational"]["channels"] == ["prerecorded_voice", "text"]
    assert (await decide(kraliki_platform, alpha.tenant_id, JANE[0], "marketing")).rule == (
        "no-consent"
    )

    rules = {
        "purposes": [
            {"name": "marketing", "requires_consent": False},
            {"name": "fundraising", "requires_consent": True, "channels": ["voice_call"]},
        ]
    }
    put = await kraliki_client.put(SETTINGS, json=rules, headers=alpha.headers)

    assert put.status_code == 200, put.text
    again = await kraliki_client.get(SETTINGS, headers=alpha.headers)
    assert [p["name"] for p in again.json()["purposes"]] == ["marketing", "fundraising"]
    assert (await decide(kraliki_platform, alpha.tenant_id, JANE[0], "marketing")).allowed
    assert (await decide(kraliki_platform, alpha.tenant_id, JANE[0], "fundraising")).rule == (
        "no-consent"
    )
    assert (await decide(kraliki_platform, alpha.tenant_id, JANE[0], "surveys")).rule == (
        "unknown-purpose"
    )
    [audit] = await audit_events(
        kraliki_platform, alpha.tenant_id, "contacts.compliance-settings.updated"
    )
    assert audit.details == {"purposes": ["marketing", "fundraising"]}


@pytest.mark.parametrize(
    "purposes",
    [
        [],
        [{"name": "all"}],
        [{"name": "Marketing"}],
        [{"name": "a"}, {"name": "a"}],
        [{"name": "a", "requires_consent": True}],
        [{"name": "a", "requires_consent": True, "channels": ["fax"]}],
    ],
)
async def test_bad_calling_rules_are_refused(kraliki_client, alpha, purposes):
    response = await kraliki_client.put(
        SETTINGS, json={"purposes": purposes}, headers=alpha.headers
    )

    assert response.status_code == 422, response.text


async def test_roles_without_the_permission_are_refused(
    kraliki_client, kraliki_make_user, alpha, jane
):
    agent = await user_headers(kraliki_client, kraliki_make_user, alpha.tenant_id, "alpha", "agent")
    role = await kraliki_client.post(
        "/api/v1/roles",
        json={"name": "viewer", "description": "reads contacts", "permissions": ["contacts:read"]},
        headers=alpha.headers,
    )
    assert role.status_code == 201, role.text
    viewer = await user_headers(
        kraliki_client, kraliki_make_user, alpha.tenant_id, "alpha", "viewer"
    )

    put = await kraliki_client.put(
        SETTINGS, json={"purposes": [{"name": "marketing"}]}, headers=agent
    )
    assert put.status_code == 403
    assert (await kraliki_client.get(SETTINGS, headers=agent)).status_code == 200
    body = {"purpose": "marketing", "channel": "text", "action": "granted", "source": "agent"}
    assert (
        await kraliki_client.post(contact_url(jane, "/consents"), json=body, headers=agent)
    ).status_code == 201
    for method, path, json in [
        ("POST", contact_url(jane, "/consents"), body),
        ("POST", "/api/v1/contacts/consents", {**body, "number": JANE[0]}),
        ("POST", contact_url(jane, "/opt-out"), {}),
        ("GET", contact_url(jane, "/consents"), None),
        ("GET", contact_url(jane, "/consent"), None),
        ("GET", SETTINGS, None),
        ("GET", DNC, None),
    ]:
        response = await kraliki_client.request(method, path, json=json, headers=viewer)
        assert response.status_code == 403, (method, path, response.text)
