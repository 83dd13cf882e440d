"""The do-not-call list over HTTP: adding (idempotent), listing, removing (audited), the
check, who may do what, and one tenant's list never touching another's calls."""

from __future__ import annotations

from datetime import timedelta

import pytest
from compliance_helpers import DNC, add_dnc, decide, user_headers

from kernel import utcnow
from kernel.testing import audit_events, published_events


@pytest.fixture
async def alpha(kraliki_make_owner):
    return await kraliki_make_owner("alpha")


async def test_a_number_is_listed_once_normalised_with_the_default_country(
    kraliki_client, kraliki_platform, alpha
):
    created = await kraliki_client.post(
        DNC, json={"value": "(415) 555-0100", "reason": "asked by phone"}, headers=alpha.headers
    )
    assert created.status_code == 201, created.text
    entry = created.json()
    assert entry["kind"] == "number"
    assert entry["value"] == "+14155550100"
    assert entry["source"] == "api"
    assert entry["added_by"] == alpha.email
    assert entry["erased"] is False

    again = await kraliki_client.post(
        DNC, json={"value": "+1 415 555 0100", "source": "agent"}, headers=alpha.headers
    )
    assert again.status_code == 200
    assert again.json()["id"] == entry["id"]
    assert again.json()["source"] == "api"  # unchanged

    names = [n for n, _ in await published_events(kraliki_platform, alpha.tenant_id)]
    assert names.count("contacts.dnc.added") == 1
    [audit] = [
        a
        for a in await audit_events(kraliki_platform, alpha.tenant_id)
        if a.action == "contacts.dnc.added"
    ]
    assert audit.target_id == entry["id"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"value": "12"}, "not a valid number in its numbering plan"),
        ({"value": "not a number"}, "not a phone number"),
        ({"kind": "prefix", "value": "1900"}, "a prefix is '+' followed by 1 to 15 digits"),
        ({"kind": "prefix", "value": "+1900x"}, "a prefix is '+' followed by 1 to 15 digits"),
    ],
)
async def test_a_value_that_is_no_number_or_prefix_is_refused(kraliki_client, alpha, body, reason):
    response = await kraliki_client.post(DNC, json=body, headers=alpha.headers)

    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"].endswith("/contacts-invalid-dnc-value")
    assert problem["reason"] == reason
    assert body["value"] not in response.text


async def test_an_expiry_in_the_past_is_refused_and_an_expired_entry_is_renewed(
    kraliki_client, kraliki_platform, alpha
):
    yesterday = (utcnow() - timedelta(days=1)).date().isoformat()
    refused = await kraliki_client.post(
        DNC, json={"value": "+14155550100", "expires_on": yesterday}, headers=alpha.headers
    )
    assert refused.status_code == 422

    tomorrow = (utcnow() + timedelta(days=1)).date()
    entry = await add_dnc(
        kraliki_client, alpha.headers, "+14155550100", expires_on=tomorrow.isoformat()
    )
    assert (await decide(kraliki_platform, alpha.tenant_id, "+14155550100")).rule == "dnc-number"
    later = utcnow() + timedelta(days=2)
    expired = await decide(kraliki_platform, alpha.tenant_id, "+14155550100", at=later)
    assert expired.allowed

    # Listed again once expired: the same entry, renewed for good.
    from plugins.contacts.compliance import dnc

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dnc, "today", lambda: later.date())
        renewed = await kraliki_client.post(
            DNC, json={"value": "+14155550100", "reason": "again"}, headers=alpha.headers
        )
    assert renewed.status_code == 201, renewed.text
    assert renewed.json()["id"] == entry["id"]
    assert renewed.json()["expires_on"] is None
    assert renewed.json()["reason"] == "again"


async def test_the_list_pages_and_filters(kraliki_client, alpha):
    numbers = [f"+1415555{i:04d}" for i in range(101, 106)]
    for number in numbers:
        await add_dnc(kraliki_client, alpha.headers, number)
    await add_dnc(kraliki_client, alpha.headers, "+1900", kind="prefix", source="agent")
    await add_dnc(kraliki_client, alpha.headers, "+442071838750")

    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = await kraliki_client.get(DNC, params=params, headers=alpha.headers)
        assert page.status_code == 200, page.text
        seen += [item["value"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted([*numbers, "+1900", "+442071838750"])

    async def values(**params):
        page = await kraliki_client.get(DNC, params=params, headers=alpha.headers)
        assert page.status_code == 200, page.text
        return sorted(item["value"] for item in page.json()["items"])

    assert await values(q="+1415") == numbers
    assert await values(q="44 20") == ["+442071838750"]
    assert await values(kind="prefix") == ["+1900"]
    assert await values(source="agent") == ["+1900"]
    assert await values(source="import") == []
    bad = await kraliki_client.get(DNC, params={"source": "nope"}, headers=alpha.headers)
    assert bad.status_code == 422


async def test_removing_an_entry_is_audited_and_makes_the_number_callable(
    kraliki_client, kraliki_platform, alpha
):
    entry = await add_dnc(kraliki_client, alpha.headers, "+14155550100", reason="complaint")
    got = await kraliki_client.get(f"{DNC}/{entry['id']}", headers=alpha.headers)
    assert got.status_code == 200
    assert got.json()["reason"] == "complaint"

    removed = await kraliki_client.delete(f"{DNC}/{entry['id']}", headers=alpha.headers)

    assert removed.status_code == 204
    assert (await decide(kraliki_platform, alpha.tenant_id, "+14155550100")).allowed
    [audit] = [
        a
        for a in await audit_events(kraliki_platform, alpha.tenant_id)
        if a.action == "contacts.dnc.removed"
    ]
    assert audit.target_id == entry["id"]
    assert audit.details == {
        "kind": "number",
        "source": "api",
        "listed_at": entry["created_at"].replace("Z", "+00:00"),
        "erased": False,
    }
    assert "complaint" not in str(audit.details)
    events = await published_events(kraliki_platform, alpha.tenant_id)
    assert (
        "contacts.dnc.removed",
        {"entry_id": entry["id"], "kind": "number", "source": "api"},
    ) in [
        (n, {k: p[k] for k in ("entry_id", "kind", "source")})
        for n, p in events
        if n == "contacts.dnc.removed"
    ]
    for method in ("get", "delete"):
        gone = await kraliki_client.request(method, f"{DNC}/{entry['id']}", headers=alpha.headers)
        assert gone.status_code == 404
        assert gone.json()["type"].endswith("/contacts-dnc-entry-not-found")


async def test_the_check_answers_with_the_decision(kraliki_client, alpha):
    entry = await add_dnc(kraliki_client, alpha.headers, "+1900", kind="prefix")

    refused = await kraliki_client.get(
        f"{DNC}/check",
        params={"number": "+1 900 555 0100", "purpose": "informational"},
        headers=alpha.headers,
    )
    allowed = await kraliki_client.get(
        f"{DNC}/check",
        params={"number": "+14155550100", "purpose": "informational"},
        headers=alpha.headers,
    )

    assert refused.status_code == 200, refused.text
    decision = refused.json()
    assert decision["allowed"] is False
    assert decision["rule"] == "dnc-prefix"
    assert decision["dnc_entry_id"] == entry["id"]
    assert decision["channel"] == "voice_call"
    assert "555" not in decision["reason"]
    assert allowed.json()["allowed"] is True
    assert allowed.json()["rule"] == "allowed"
    missing = await kraliki_client.get(
        f"{DNC}/check", params={"number": "1"}, headers=alpha.headers
    )
    assert missing.status_code == 422


async def test_roles_without_the_permission_are_refused(kraliki_client, kraliki_make_user, alpha):
    integrator = await user_headers(
        kraliki_client, kraliki_make_user, alpha.tenant_id, "alpha", "integrator"
    )
    agent = await user_headers(kraliki_client, kraliki_make_user, alpha.tenant_id, "alpha", "agent")
    entry = await add_dnc(kraliki_client, alpha.headers, "+14155550100")

    for method, url, body in [
        ("POST", DNC, {"value": "+14155550101"}),
        ("DELETE", f"{DNC}/{entry['id']}", None),
        ("POST", f"{DNC}/import", None),
    ]:
        response = await kraliki_client.request(method, url, json=body, headers=integrator)
        assert response.status_code == 403, (method, url, response.text)
    assert (await kraliki_client.get(DNC, headers=integrator)).status_code == 200
    # An agent may list a number a caller asked not to be called again.
    added = await kraliki_client.post(DNC, json={"value": "+14155550101"}, headers=agent)
    assert added.status_code == 201
    assert (await kraliki_client.get(DNC)).status_code == 401


async def test_one_tenants_list_never_refuses_anothers_calls(
    kraliki_client, kraliki_platform, kraliki_make_owner, alpha
):
    beta = await kraliki_make_owner("beta")
    entry = await add_dnc(kraliki_client, alpha.headers, "+14155550100")
    await add_dnc(kraliki_client, alpha.headers, "+1900", kind="prefix")

    assert (await decide(kraliki_platform, alpha.tenant_id, "+14155550100")).rule == "dnc-number"
    assert (await decide(kraliki_platform, beta.tenant_id, "+14155550100")).allowed
    assert (await decide(kraliki_platform, beta.tenant_id, "+19005550100")).allowed
    other = await kraliki_client.get(f"{DNC}/{entry['id']}", headers=beta.headers)
    assert other.status_code == 404
    listed = await kraliki_client.get(DNC, headers=beta.headers)
    assert listed.json()["items"] == []
    removed = await kraliki_client.delete(f"{DNC}/{entry['id']}", headers=beta.headers)
    assert removed.status_code == 404
    assert (await decide(kraliki_platform, alpha.tenant_id, "+14155550100")).rule == "dnc-number"
