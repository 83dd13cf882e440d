"""A contact's timeline and the number lookup, through HTTP with real credentials."""

from __future__ import annotations

import uuid

import pytest
from timeline_helpers import add_contact, call_event

from kernel import tenant_scope
from kernel.testing import login
from plugins.contacts.models import ContactSettingsRow
from plugins.contacts.timeline.linking import link_calls

ADA = "+14155550123"


@pytest.fixture
async def alpha(kraliki_make_owner):
    return await kraliki_make_owner("alpha")


@pytest.fixture
async def nobody(alpha, kraliki_make_user, kraliki_client):
    """A user of alpha without any role."""
    await kraliki_make_user(alpha.tenant_id, "nobody@alpha.example.com", roles=[])
    return await login(kraliki_client, "nobody@alpha.example.com", tenant="alpha")


async def test_the_timeline_lists_calls_newest_first_page_by_page(
    kraliki_platform, kraliki_client, alpha
):
    ada = await add_contact(kraliki_platform, alpha.tenant_id, numbers=[ADA])
    calls = [uuid.uuid4() for _ in range(3)]
    events = []
    for index, call_id in enumerate(calls):
        events += [
            call_event(alpha.tenant_id, "created", call_id=call_id, position=10 * index + 1),
            call_event(
                alpha.tenant_id,
                "busy",
                call_id=call_id,
                position=10 * index + 2,
                duration_seconds=0,
            ),
        ]
    events.append(
        call_event(
            alpha.tenant_id,
            "updated",
            call_id=calls[0],
            position=100,
            status="busy",
            disposition="no-interest",
            notes="Hung up",
        )
    )
    await link_calls(kraliki_platform, events)

    url = f"/api/v1/contacts/{ada}/timeline"
    first = await kraliki_client.get(url, params={"limit": 2}, headers=alpha.headers)
    assert first.status_code == 200, first.text
    page = first.json()
    assert [item["call_id"] for item in page["items"]] == [str(calls[2]), str(calls[1])]
    rest = await kraliki_client.get(
        url, params={"limit": 2, "cursor": page["next_cursor"]}, headers=alpha.headers
    )
    [oldest] = rest.json()["items"]
    assert rest.json()["next_cursor"] is None
    assert oldest == oldest | {
        "call_id": str(calls[0]),
        "direction": "outbound",
        "number": ADA,
        "status": "busy",
        "disposition": "no-interest",
        "notes": "Hung up",
        "duration_seconds": 0,
        "href": f"/api/v1/calls/{calls[0]}",
    }
    assert oldest["ended_at"] is not None


async def test_the_timeline_of_an_unknown_or_foreign_contact_is_404(
    kraliki_platform, kraliki_client, alpha, kraliki_make_owner
):
    beta = await kraliki_make_owner("beta")
    theirs = await add_contact(kraliki_platform, beta.tenant_id, numbers=[ADA])
    for contact_id in (theirs, uuid.uuid4()):
        response = await kraliki_client.get(
            f"/api/v1/contacts/{contact_id}/timeline", headers=alpha.headers
        )
        assert response.status_code == 404, response.text
        assert response.json()["type"] == "/problems/contacts-contact-not-found"


async def test_lookup_finds_the_owners_of_a_number_as_typed(
    kraliki_platform, kraliki_client, alpha
):
    older = await add_contact(kraliki_platform, alpha.tenant_id, "Ada", numbers=[ADA])
    newer = await add_contact(
        kraliki_platform, alpha.tenant_id, "Bob", numbers=["+14155550999", ADA]
    )
    await add_contact(
        kraliki_platform, alpha.tenant_id, "Old Ada", numbers=[ADA], merged_into_id=older
    )
    await add_contact(kraliki_platform, alpha.tenant_id, "Someone else", numbers=["+14155550999"])

    for typed in (ADA, "(415) 555-0123", "415.555.0123"):
        found = await kraliki_client.get(
            "/api/v1/contacts/lookup", params={"number": typed}, headers=alpha.headers
        )
        assert found.status_code == 200, found.text
        body = found.json()
        assert body["number"] == ADA
        assert [item["id"] for item in body["items"]] == [str(newer), str(older)]
        assert [item["phones"][-1]["number"] for item in body["items"]] == [ADA, ADA]
    nobody = await kraliki_client.get(
        "/api/v1/contacts/lookup", params={"number": "+14155550100"}, headers=alpha.headers
    )
    assert nobody.json()["items"] == []


async def test_lookup_reads_national_numbers_with_the_tenants_country(
    kraliki_platform, kraliki_client, alpha
):
    czech = await add_contact(kraliki_platform, alpha.tenant_id, numbers=["+420601123456"])
    with tenant_scope(alpha.tenant_id):
        async with kraliki_platform.database.session() as session:
            session.add(ContactSettingsRow(default_country="CZ"))
            await session.commit()
    found = await kraliki_client.get(
        "/api/v1/contacts/lookup", params={"number": "601 123 456"}, headers=alpha.headers
    )
    assert [item["id"] for item in found.json()["items"]] == [str(czech)]


@pytest.mark.parametrize("number", ["12", "+999 123", "not a number", "+1415555012345678"])
async def test_lookup_of_an_invalid_number_is_a_422_problem(kraliki_client, alpha, number):
    response = await kraliki_client.get(
        "/api/v1/contacts/lookup", params={"number": number}, headers=alpha.headers
    )
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "/problems/contacts-invalid-number"
    assert number not in response.text


async def test_reading_needs_contacts_read(kraliki_client, alpha, nobody):
    for url in (f"/api/v1/contacts/{uuid.uuid4()}/timeline", "/api/v1/contacts/lookup?number=1"):
        response = await kraliki_client.get(url, headers=nobody)
        assert response.status_code == 403, (url, response.text)
