"""Erasing a contact: queued, idempotent, done in one transaction with every plugin's part,
retried after a failure without a trace of the person in the error."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from privacy_helpers import EMAIL, NUMBER, seed_contact
from sqlalchemy import update
from timeline_helpers import add_contact, contact_row, rows

from kernel import Platform, tenant_scope, utcnow
from kernel.testing import audit_events, job_due_at, login, published_events
from plugins.contacts.models import (
    ContactEmail,
    ContactPhone,
    ContactTag,
    Erasure,
    Interaction,
    SegmentMember,
)
from plugins.contacts.privacy.erasure import TOPIC, retry_delay, run_erasures


async def erase(client, owner, contact_id) -> dict:
    response = await client.post(f"/api/v1/contacts/{contact_id}/erase", headers=owner.headers)
    assert response.status_code == 202, response.text
    assert response.headers["Location"] == response.json()["href"]
    return dict(response.json())


async def run_jobs(platform: Platform) -> None:
    await platform.dispatcher.drain()
    await platform.jobs.run_due(platform)


@pytest.fixture
async def kraliki_app(kraliki_make_app):
    """Jobs and dispatch run when a test says so."""
    return await kraliki_make_app(background_workers=False)


@pytest.fixture
def crm() -> dict[str, Any]:
    """A plugin's erasure part that fails while ``broken``, and the numbers it was given."""
    return {"broken": False, "numbers": []}


@pytest.fixture
def kraliki_extra_plugins(make_plugin, crm):
    def contact_erased(numbers):
        crm["numbers"].append(list(numbers))
        if crm["broken"]:
            raise RuntimeError(f"cannot erase {numbers[0]}")  # a message quoting the number

    return [make_plugin("crm", requires=["contacts"], contact_erased=contact_erased)]


@pytest.fixture
async def alpha(kraliki_make_owner):
    return await kraliki_make_owner("alpha")


async def test_an_erased_contact_holds_nothing_personal(kraliki_platform, kraliki_client, alpha):
    tenant = alpha.tenant_id
    seeded = await seed_contact(kraliki_platform, tenant)
    bob = await add_contact(kraliki_platform, tenant, "Bob", numbers=["+14155550999"])

    asked = await erase(kraliki_client, alpha, seeded.contact_id)
    assert asked["status"] == "pending"
    assert re.fullmatch(r"erased-[0-9a-f]{12}", asked["pseudonym"])
    again = await erase(kraliki_client, alpha, seeded.contact_id)
    assert again["id"] == asked["id"]
    await run_jobs(kraliki_platform)

    status = await kraliki_client.get(asked["href"], headers=alpha.headers)
    assert status.json()["status"] == "completed", status.text
    assert status.json()["completed_at"] is not None
    assert (await erase(kraliki_client, alpha, seeded.contact_id))["id"] == asked["id"]

    pseudonym = asked["pseudonym"]
    contact = await contact_row(kraliki_platform, tenant, seeded.contact_id)
    assert contact.erased_at is not None
    assert (contact.name, contact.company, contact.external_id, contact.city) == (
        pseudonym,
        "",
        None,
        "",
    )
    assert (contact.custom_fields, contact.tags, contact.country) == ({}, [], None)
    for model in (ContactPhone, ContactEmail, ContactTag, SegmentMember):
        mine = model.contact_id == seeded.contact_id  # type: ignore[attr-defined]
        assert await rows(kraliki_platform, tenant, model, mine) == [], model
    [interaction] = await rows(
        kraliki_platform, tenant, Interaction, Interaction.contact_id == seeded.contact_id
    )
    assert (interaction.number, interaction.notes) == (pseudonym, "")
    assert interaction.disposition == "callback"  # the outcome stays, without the person

    export = await kraliki_client.get(
        f"/api/v1/contacts/{seeded.contact_id}/export", headers=alpha.headers
    )
    timeline = await kraliki_client.get(
        f"/api/v1/contacts/{seeded.contact_id}/timeline", headers=alpha.headers
    )
    for answer in (export, timeline):
        assert answer.status_code == 200, answer.text
        for personal in ("Ada", "Lovelace", "Analytical", NUMBER, EMAIL, "mornings", "A-42"):
            assert personal not in answer.text, (personal, answer.request.url)
    lookup = await kraliki_client.get(
        "/api/v1/contacts/lookup", params={"number": NUMBER}, headers=alpha.headers
    )
    assert lookup.json()["items"] == []
    shown = await kraliki_client.get(f"/api/v1/contacts/{seeded.contact_id}", headers=alpha.headers)
    assert shown.json()["erased"] is True
    assert (shown.json()["name"], shown.json()["phones"], shown.json()["emails"]) == (
        pseudonym,
        [],
        [],
    )
    listed = await kraliki_client.get("/api/v1/contacts", headers=alpha.headers)
    assert [item["id"] for item in listed.json()["items"]] == [str(bob)]
    # Bob is untouched.
    assert (await contact_row(kraliki_platform, tenant, bob)).name == "Bob"
    found = await kraliki_client.get(
        "/api/v1/contacts/lookup", params={"number": "+14155550999"}, headers=alpha.headers
    )
    assert [item["id"] for item in found.json()["items"]] == [str(bob)]

    erased = [p for n, p in await published_events(kraliki_platform, tenant) if "erased" in n]
    assert erased == [
        {
            "contact_id": str(seeded.contact_id),
            "contact_version": contact.version,
            "erasure_id": asked["id"],
        }
    ]
    actions = [e.action for e in await audit_events(kraliki_platform, tenant)]
    assert "contacts.erasure_requested" in actions
    assert "contacts.contact_erased" in actions
    for entry in await audit_events(kraliki_platform, tenant):
        assert NUMBER not in str(entry.details)
        assert "Ada" not in str(entry.details)


async def test_a_failing_plugin_rolls_the_erasure_back_and_it_is_retried(
    kraliki_platform, kraliki_client, alpha, crm
):
    platform, tenant = kraliki_platform, alpha.tenant_id
    seeded = await seed_contact(platform, tenant)
    crm["broken"] = True
    asked = await erase(kraliki_client, alpha, seeded.contact_id)
    await run_jobs(platform)

    failed = (await kraliki_client.get(asked["href"], headers=alpha.headers)).json()
    assert (failed["status"], failed["attempts"]) == ("pending", 1)
    assert "crm" in failed["last_error"]
    assert "RuntimeError" in failed["last_error"]
    assert NUMBER not in failed["last_error"]
    contact = await contact_row(platform, tenant, seeded.contact_id)
    assert contact.name == "Ada Lovelace"  # nothing of the contacts plugin's own part stayed
    assert contact.erased_at is None
    assert await rows(platform, tenant, ContactPhone)
    due = await job_due_at(platform, TOPIC, tenant)
    assert due is not None
    assert due > utcnow() + retry_delay(1) / 2

    crm["broken"] = False
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            await session.execute(update(Erasure).values(next_attempt_at=utcnow()))
            await session.commit()
        assert await run_erasures(platform, tenant) is None
    done = (await kraliki_client.get(asked["href"], headers=alpha.headers)).json()
    assert (done["status"], done["attempts"], done["last_error"]) == ("completed", 2, None)
    contact = await contact_row(platform, tenant, seeded.contact_id)
    assert contact.name == asked["pseudonym"]
    assert crm["numbers"] == [[NUMBER], [NUMBER]]  # as they were, both times


def test_retries_back_off_up_to_an_hour():
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 8, 50)] == [
        30,
        60,
        120,
        3600,
        3600,
    ]


async def test_erasing_needs_contacts_erase_and_a_contact_of_ones_own(
    kraliki_platform, kraliki_client, alpha, kraliki_make_user, kraliki_make_owner
):
    beta = await kraliki_make_owner("beta")
    theirs = await add_contact(kraliki_platform, beta.tenant_id)
    for contact_id in (theirs, uuid.uuid4()):
        response = await kraliki_client.post(
            f"/api/v1/contacts/{contact_id}/erase", headers=alpha.headers
        )
        assert response.status_code == 404, response.text
    assert await rows(kraliki_platform, beta.tenant_id, Erasure) == []
    unknown = await kraliki_client.get(
        f"/api/v1/contacts/erasures/{uuid.uuid4()}", headers=alpha.headers
    )
    assert unknown.json()["type"] == "/problems/contacts-erasure-not-found"
    await kraliki_make_user(alpha.tenant_id, "sup@alpha.example.com", roles=["supervisor"])
    supervisor = await login(kraliki_client, "sup@alpha.example.com", tenant="alpha")
    mine = await add_contact(kraliki_platform, alpha.tenant_id)
    refused = await kraliki_client.post(f"/api/v1/contacts/{mine}/erase", headers=supervisor)
    assert refused.status_code == 403, refused.text


async def test_an_erasure_with_the_hash_key_not_cached_completes_at_once(
    kraliki_platform, kraliki_client, alpha
):
    """The worker's cache of the hash key is empty (another worker created the key, or it
    expired): reading it must not wait for the erasure's own write lock (SQLite)."""
    ids = []
    for name, number in (("Ada", "+14155550101"), ("Bea", "+14155550102")):
        ids.append(await add_contact(kraliki_platform, alpha.tenant_id, name, numbers=[number]))
        listed = await kraliki_client.post(
            "/api/v1/contacts/dnc", headers=alpha.headers, json={"value": number}
        )
        assert listed.status_code == 201, listed.text
    first = await erase(kraliki_client, alpha, ids[0])
    await run_jobs(kraliki_platform)
    assert (await kraliki_client.get(first["href"], headers=alpha.headers)).json()[
        "status"
    ] == "completed"

    kraliki_platform.vault.secrets.clear()
    second = await erase(kraliki_client, alpha, ids[1])
    await run_jobs(kraliki_platform)
    done = (await kraliki_client.get(second["href"], headers=alpha.headers)).json()
    assert (done["status"], done["attempts"]) == ("completed", 1), done
    check = await kraliki_client.get(
        "/api/v1/contacts/dnc/check",
        headers=alpha.headers,
        params={"number": "+14155550102", "purpose": "informational"},
    )
    assert check.json()["rule"] == "dnc-number", check.text
