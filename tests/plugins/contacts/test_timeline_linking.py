"""Calls join their contacts' timelines from the calls plugin's events: idempotently under
redelivery, in order whatever order events come back in, once per call in the summary."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from timeline_helpers import START, add_contact, call_event, contact_row, rows

from kernel import Platform
from kernel.testing import create_tenant, published_events
from plugins.contacts.models import Interaction
from plugins.contacts.timeline.linking import link_calls

ADA = "+14155550123"
SHARED = "+14155550188"


@pytest.fixture
async def platform(kraliki_make_app) -> Platform:
    app = await kraliki_make_app(background_workers=False)
    platform: Platform = app.state.platform
    return platform


@pytest.fixture
async def tenant(platform) -> uuid.UUID:
    return await create_tenant(platform, "acme")


def story(tenant_id: uuid.UUID, call_id: uuid.UUID, first: int = 1, **common):
    """An outbound call's events: created, answered, completed, then a disposition."""
    return [
        call_event(tenant_id, "created", call_id=call_id, position=first, **common),
        call_event(tenant_id, "answered", call_id=call_id, position=first + 1, **common),
        call_event(
            tenant_id,
            "completed",
            call_id=call_id,
            position=first + 2,
            duration_seconds=42,
            hangup_cause="normal",
            **common,
        ),
        call_event(
            tenant_id,
            "updated",
            call_id=call_id,
            position=first + 3,
            disposition="callback",
            notes="Call back on Monday",
            tags=[],
            changed=["disposition", "notes"],
            **common,
        ),
    ]


async def test_a_call_to_a_contacts_number_joins_its_timeline(platform, tenant):
    ada = await add_contact(platform, tenant, numbers=[ADA])
    call_id = uuid.uuid4()
    await link_calls(platform, story(tenant, call_id))

    [row] = await rows(platform, tenant, Interaction)
    assert (row.contact_id, row.call_id, row.direction, row.number) == (
        ada,
        call_id,
        "outbound",
        ADA,
    )
    assert (row.status, row.disposition, row.notes, row.duration_seconds) == (
        "completed",
        "callback",
        "Call back on Monday",
        42,
    )
    assert row.started_at == START.replace(second=1)
    assert row.ended_at == START.replace(second=3)
    contact = await contact_row(platform, tenant, ada)
    assert (contact.call_count, contact.last_call_status, contact.last_disposition) == (
        1,
        "completed",
        "callback",
    )
    assert contact.last_call_at == row.started_at
    assert contact.version == 1  # a call is not an edit of the contact
    linked = [p for name, p in await published_events(platform, tenant) if "call-linked" in name]
    assert linked == [
        {
            "contact_id": str(ada),
            "contact_version": 1,
            "call_id": str(call_id),
            "direction": "outbound",
        }
    ]


async def test_redelivered_and_late_events_change_nothing(platform, tenant):
    ada = await add_contact(platform, tenant, numbers=[ADA])
    call_id = uuid.uuid4()
    events = story(tenant, call_id)
    await link_calls(platform, events[:2])
    await link_calls(platform, events[2:])
    # At least once: the whole story again, then the answered event alone, late.
    await link_calls(platform, events)
    await link_calls(platform, [events[1]])

    [row] = await rows(platform, tenant, Interaction)
    assert (row.status, row.disposition, row.last_event_position) == ("completed", "callback", 4)
    contact = await contact_row(platform, tenant, ada)
    assert contact.call_count == 1
    linked = [name for name, _ in await published_events(platform, tenant) if "linked" in name]
    assert linked == ["contacts.contact.call-linked"]


async def test_an_inbound_call_is_the_callers(platform, tenant):
    ada = await add_contact(platform, tenant, numbers=[ADA])
    call_id = uuid.uuid4()
    inbound = {"direction": "inbound", "from_number": ADA, "to_number": "+14155550000"}
    await link_calls(
        platform, [call_event(tenant, "created", call_id=call_id, position=1, **inbound)]
    )
    # An outbound call *from* Ada's number is not hers (a number the tenant owns).
    await link_calls(
        platform,
        [
            call_event(
                tenant,
                "created",
                call_id=uuid.uuid4(),
                position=2,
                from_number=ADA,
                to_number="+14155550999",
            )
        ],
    )
    [row] = await rows(platform, tenant, Interaction)
    assert (row.contact_id, row.direction, row.number) == (ada, "inbound", ADA)


async def test_a_shared_number_links_every_contact_and_counts_calls_once(platform, tenant):
    first = await add_contact(platform, tenant, "Ada", numbers=[SHARED])
    second = await add_contact(platform, tenant, "Bob", numbers=[SHARED, ADA])
    calls = [uuid.uuid4(), uuid.uuid4()]
    await link_calls(platform, story(tenant, calls[0], to_number=SHARED))
    await link_calls(platform, story(tenant, calls[1], first=5, to_number=ADA))

    interactions = await rows(platform, tenant, Interaction)
    assert sorted((r.contact_id, r.call_id) for r in interactions) == sorted(
        [(first, calls[0]), (second, calls[0]), (second, calls[1])]
    )
    assert (await contact_row(platform, tenant, first)).call_count == 1
    bob = await contact_row(platform, tenant, second)
    assert bob.call_count == 2
    assert bob.last_call_at == START.replace(second=5)


async def test_merged_and_erased_contacts_get_no_new_calls(platform, tenant):
    live = await add_contact(platform, tenant, numbers=[ADA])
    await add_contact(platform, tenant, numbers=[ADA], merged_into_id=live)
    await add_contact(platform, tenant, numbers=[ADA], erased_at=START)
    await link_calls(platform, story(tenant, uuid.uuid4()))
    assert [r.contact_id for r in await rows(platform, tenant, Interaction)] == [live]


async def test_bad_payloads_are_skipped_and_the_rest_linked(platform, tenant):
    ada = await add_contact(platform, tenant, numbers=[ADA])
    good = uuid.uuid4()
    broken = [
        call_event(tenant, "created", call_id=uuid.uuid4(), position=1, direction="sideways"),
        call_event(tenant, "created", call_id=uuid.uuid4(), position=2, to_number=None),
        call_event(tenant, "created", call_id=uuid.uuid4(), position=3, status="x" * 40),
        call_event(tenant, "updated", call_id=uuid.uuid4(), position=4, disposition="y" * 100),
    ]
    broken[0].payload.pop("call_id")
    await link_calls(platform, [*broken, call_event(tenant, "created", call_id=good, position=5)])
    assert [(r.contact_id, r.call_id) for r in await rows(platform, tenant, Interaction)] == [
        (ada, good)
    ]


async def test_a_batch_of_two_tenants_links_each_in_its_own(platform, tenant):
    other = await create_tenant(platform, "beta")
    ours = await add_contact(platform, tenant, numbers=[ADA])
    theirs = await add_contact(platform, other, numbers=[ADA])
    mine, yours = uuid.uuid4(), uuid.uuid4()
    await link_calls(
        platform,
        [
            call_event(tenant, "created", call_id=mine, position=1),
            call_event(other, "created", call_id=yours, position=1),
        ],
    )
    assert [(r.contact_id, r.call_id) for r in await rows(platform, tenant, Interaction)] == [
        (ours, mine)
    ]
    assert [(r.contact_id, r.call_id) for r in await rows(platform, other, Interaction)] == [
        (theirs, yours)
    ]


async def test_events_of_other_plugins_and_unknown_numbers_are_ignored(platform, tenant):
    await add_contact(platform, tenant, numbers=[ADA])
    event = call_event(tenant, "created", call_id=uuid.uuid4(), position=1, to_number=SHARED)
    await link_calls(platform, [event])
    foreign = call_event(tenant, "created", call_id=uuid.uuid4(), position=2)
    foreign = dataclasses.replace(foreign, name="webhooks.delivery.failed")
    await link_calls(platform, [foreign])
    assert await rows(platform, tenant, Interaction) == []


async def test_a_batch_conflicting_with_another_writer_is_tried_again(
    platform, tenant, monkeypatch
):
    """A failing hook's batch still counts as delivered: a conflict must not lose links."""
    from sqlalchemy.exc import IntegrityError

    from plugins.contacts.timeline import linking

    ada = await add_contact(platform, tenant, numbers=[ADA])
    real, attempts = linking.link_batch, []

    async def conflicting_once(platform, session, events):
        attempts.append(len(events))
        if len(attempts) == 1:
            raise IntegrityError("INSERT INTO contacts_interactions", {}, Exception("duplicate"))
        await real(platform, session, events)

    monkeypatch.setattr(linking, "link_batch", conflicting_once)
    await link_calls(platform, story(tenant, uuid.uuid4()))
    assert attempts == [4, 4]
    assert [r.contact_id for r in await rows(platform, tenant, Interaction)] == [ada]
