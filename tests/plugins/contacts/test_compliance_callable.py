"""``is_callable``, rule by rule, and erased contacts' numbers kept as hashes that still
refuse the call."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime

import pytest
from compliance_helpers import (
    DNC,
    add_dnc,
    contact_url,
    decide,
    erase_numbers,
    make_contact,
    record_consent,
)

from kernel import tenant_scope
from plugins.contacts import CallableDecision
from plugins.contacts.compliance.callable import RULES
from plugins.contacts.compliance.hashing import HASH_KEY_NAME, hash_number, keep_erased_numbers

NUMBER = "+14155550100"


@pytest.fixture
async def alpha(kraliki_make_owner):
    return await kraliki_make_owner("alpha")


@pytest.mark.parametrize(
    ("number", "purpose", "channel", "rule", "allowed"),
    [
        ("not a number", "informational", "voice_call", "invalid-number", False),
        ("", "informational", "voice_call", "invalid-number", False),
        (NUMBER, "lottery", "voice_call", "unknown-purpose", False),
        (NUMBER, "all", "voice_call", "unknown-purpose", False),
        (NUMBER, "marketing", "voice_call", "no-consent", False),
        (NUMBER, "informational", "prerecorded_voice", "no-consent", False),
        (NUMBER, "informational", "voice_call", "allowed", True),
        ("(415) 555-0100", "debt_collection", "voice_call", "allowed", True),
    ],
)
async def test_rules_that_need_no_list(
    kraliki_platform, alpha, number, purpose, channel, rule, allowed
):
    decision = await decide(kraliki_platform, alpha.tenant_id, number, purpose, channel)

    assert (decision.rule, decision.allowed) == (rule, allowed)
    assert decision.rule in RULES
    assert decision.purpose == purpose
    assert decision.channel == channel
    assert number == "" or number not in decision.reason
    assert decision.dnc_entry_id is None
    assert decision.consent_record_id is None


async def test_the_number_and_the_longest_prefix(kraliki_client, kraliki_platform, alpha):
    short = await add_dnc(kraliki_client, alpha.headers, "+1900", kind="prefix")
    longer = await add_dnc(kraliki_client, alpha.headers, "+1900555", kind="prefix")
    await add_dnc(kraliki_client, alpha.headers, "+1415555", kind="prefix")
    number = await add_dnc(kraliki_client, alpha.headers, "+14155550100")

    by_longer = await decide(kraliki_platform, alpha.tenant_id, "+19005550100")
    by_short = await decide(kraliki_platform, alpha.tenant_id, "+19004440100")
    by_number = await decide(kraliki_platform, alpha.tenant_id, "+14155550100")
    by_prefix = await decide(kraliki_platform, alpha.tenant_id, "+14155550101")
    not_listed = await decide(kraliki_platform, alpha.tenant_id, "+14165550100")

    assert (by_longer.rule, str(by_longer.dnc_entry_id)) == ("dnc-prefix", longer["id"])
    assert (by_short.rule, str(by_short.dnc_entry_id)) == ("dnc-prefix", short["id"])
    assert (by_number.rule, str(by_number.dnc_entry_id)) == ("dnc-number", number["id"])
    assert by_prefix.rule == "dnc-prefix"
    assert not_listed.allowed


async def test_the_list_comes_before_consent(kraliki_client, kraliki_platform, alpha):
    contact = await make_contact(kraliki_client, alpha.headers, NUMBER)
    await record_consent(
        kraliki_client, alpha.headers, contact, "marketing", "voice_call", "granted"
    )
    assert (
        await decide(kraliki_platform, alpha.tenant_id, NUMBER, "marketing", contact_id=contact)
    ).allowed

    await add_dnc(kraliki_client, alpha.headers, NUMBER)

    decision = await decide(
        kraliki_platform, alpha.tenant_id, NUMBER, "marketing", contact_id=contact
    )
    assert decision.rule == "dnc-number"


async def test_a_decision_as_a_record(kraliki_client, kraliki_platform, alpha):
    contact = await make_contact(kraliki_client, alpha.headers, NUMBER)
    line = await record_consent(
        kraliki_client, alpha.headers, contact, "marketing", "text", "granted"
    )
    at = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)

    decision = await decide(
        kraliki_platform, alpha.tenant_id, NUMBER, "marketing", "text", contact_id=contact, at=at
    )

    assert isinstance(decision, CallableDecision)
    record = decision.as_record()
    assert json.loads(json.dumps(record)) == {
        "allowed": True,
        "rule": "allowed",
        "reason": "Consent for marketing on text is on record.",
        "purpose": "marketing",
        "channel": "text",
        "checked_at": "2030-01-02T03:04:05+00:00",
        "dnc_entry_id": None,
        "consent_record_id": line["id"],
        "contact_id": str(contact),
    }
    with pytest.raises(AttributeError):
        decision.allowed = False  # type: ignore[misc]
    # Before the grant happened, there was none.
    before = await decide(
        kraliki_platform,
        alpha.tenant_id,
        NUMBER,
        "marketing",
        "text",
        contact_id=contact,
        at=datetime(2020, 1, 1, tzinfo=UTC),
    )
    assert before.rule == "no-consent"


async def test_an_erased_number_stays_refused_as_a_keyed_hash(
    kraliki_client, kraliki_platform, kraliki_make_owner, alpha
):
    beta = await kraliki_make_owner("beta")
    entry = await add_dnc(kraliki_client, alpha.headers, NUMBER, reason="asked")
    await add_dnc(kraliki_client, beta.headers, NUMBER)
    contact = await make_contact(kraliki_client, alpha.headers, NUMBER)
    line = await record_consent(
        kraliki_client, alpha.headers, contact, "marketing", "text", "revoked", number=NUMBER
    )

    await erase_numbers(kraliki_platform, alpha.tenant_id, NUMBER)
    await erase_numbers(kraliki_platform, alpha.tenant_id, NUMBER)  # idempotent

    kept = (await kraliki_client.get(f"{DNC}/{entry['id']}", headers=alpha.headers)).json()
    assert (kept["value"], kept["erased"], kept["reason"]) == ("", True, "asked")
    listed = await kraliki_client.get(DNC, headers=alpha.headers)
    assert NUMBER not in listed.text
    ledger = await kraliki_client.get(contact_url(contact, "/consents"), headers=alpha.headers)
    [hashed] = ledger.json()["items"]
    assert hashed["id"] == line["id"]
    assert len(hashed["number"]) == 64
    assert hashed["number"] != hashlib.sha256(NUMBER.encode()).hexdigest()  # keyed
    decision = await decide(kraliki_platform, alpha.tenant_id, "(415) 555-0100")
    assert (decision.rule, str(decision.dnc_entry_id)) == ("dnc-number", entry["id"])
    # Listed again after erasure: a second entry, the hash one still refuses.
    again = await kraliki_client.post(DNC, json={"value": NUMBER}, headers=alpha.headers)
    assert again.status_code == 201
    removed = await kraliki_client.delete(f"{DNC}/{again.json()['id']}", headers=alpha.headers)
    assert removed.status_code == 204
    assert (await decide(kraliki_platform, alpha.tenant_id, NUMBER)).rule == "dnc-number"
    # The hash's ledger line still speaks about the number.
    await kraliki_client.delete(f"{DNC}/{entry['id']}", headers=alpha.headers)
    decision = await decide(kraliki_platform, alpha.tenant_id, NUMBER, "marketing", "text")
    assert (decision.rule, str(decision.consent_record_id)) == ("consent-revoked", line["id"])

    # Beta's list still holds the number in plain, and has no key: nothing of alpha's leaks.
    other = (await kraliki_client.get(DNC, headers=beta.headers)).json()["items"]
    assert [(e["value"], e["erased"]) for e in other] == [(NUMBER, False)]
    with tenant_scope(beta.tenant_id):
        async with kraliki_platform.database.session() as session:
            assert await hash_number(kraliki_platform, session, NUMBER) is None
    with tenant_scope(alpha.tenant_id):
        async with kraliki_platform.database.session() as session:
            assert await hash_number(kraliki_platform, session, NUMBER) == hashed["number"]


async def test_the_hash_key_is_a_managed_vault_secret(kraliki_client, kraliki_platform, alpha):
    await add_dnc(kraliki_client, alpha.headers, NUMBER)
    await erase_numbers(kraliki_platform, alpha.tenant_id, NUMBER)

    listed = await kraliki_client.get("/api/v1/vault/secrets", headers=alpha.headers)
    assert listed.status_code == 200, listed.text
    names = (
        [s["name"] for s in listed.json()]
        if isinstance(listed.json(), list)
        else [s["name"] for s in listed.json()["items"]]
    )
    assert HASH_KEY_NAME in names
    put = await kraliki_client.put(
        f"/api/v1/vault/secrets/{HASH_KEY_NAME}", json={"value": "x" * 64}, headers=alpha.headers
    )
    assert put.status_code in (403, 409, 422), put.text


async def test_numbers_held_nowhere_need_no_key(kraliki_client, kraliki_platform, alpha):
    await add_dnc(kraliki_client, alpha.headers, "+14155550111")
    await erase_numbers(kraliki_platform, alpha.tenant_id)
    await erase_numbers(kraliki_platform, alpha.tenant_id, NUMBER)

    with tenant_scope(alpha.tenant_id):
        async with kraliki_platform.database.session() as session:
            assert await hash_number(kraliki_platform, session, NUMBER) is None


async def test_a_number_of_a_contact_of_another_tenant_is_not_theirs(
    kraliki_client, kraliki_platform, kraliki_make_owner, alpha
):
    beta = await kraliki_make_owner("beta")
    contact = await make_contact(kraliki_client, alpha.headers, NUMBER)
    await kraliki_client.post(contact_url(contact, "/opt-out"), json={}, headers=alpha.headers)

    decision = await decide(kraliki_platform, beta.tenant_id, NUMBER, contact_id=contact)

    assert decision.allowed
    assert (await decide(kraliki_platform, alpha.tenant_id, NUMBER)).rule == "dnc-number"
    assert uuid.UUID(str(contact))


async def test_an_erasure_rolled_back_hashes_nothing_and_keeps_no_key(
    kraliki_client, kraliki_platform, alpha
):
    await add_dnc(kraliki_client, alpha.headers, NUMBER)

    with tenant_scope(alpha.tenant_id):
        async with kraliki_platform.database.session() as session:
            await keep_erased_numbers(kraliki_platform, session, [NUMBER])
            await session.rollback()  # another plugin's part of the erasure failed

    listed = (await kraliki_client.get(DNC, headers=alpha.headers)).json()["items"]
    assert [(e["value"], e["erased"]) for e in listed] == [(NUMBER, False)]
    with tenant_scope(alpha.tenant_id):
        async with kraliki_platform.database.session() as session:
            assert await hash_number(kraliki_platform, session, NUMBER) is None
