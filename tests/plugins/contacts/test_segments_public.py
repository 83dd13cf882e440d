"""What other plugins use (``plugins.contacts``): walking a segment's contacts in chunks, its
count, and the filter evaluated at a given moment."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from segments_helpers import NOW, SEGMENTS, World, add_contact, build_world
from sqlalchemy import func, select

from kernel import tenant_scope
from plugins.contacts import (
    ContactFilter,
    SegmentNotFoundError,
    count_segment,
    segment_contact_ids,
)


@pytest.fixture
async def world(kraliki_platform, kraliki_make_owner) -> World:
    return await build_world(kraliki_platform, kraliki_make_owner)


async def test_a_dialer_walks_a_segment_in_chunks(kraliki_client, kraliki_platform, world):
    t = world.a.tenant_id
    for n in range(7):
        await add_contact(kraliki_platform, t, name=f"Lead {n}", tags=["lead"])
    created = await kraliki_client.post(
        SEGMENTS, headers=world.a.headers, json={"name": "Leads", "filter": {"tags_any": ["lead"]}}
    )
    segment_id = uuid.UUID(created.json()["id"])
    walked: list[uuid.UUID] = []
    with tenant_scope(t):
        async with kraliki_platform.database.session() as session:
            assert await count_segment(session, segment_id) == 7
            after = None
            while chunk := await segment_contact_ids(session, segment_id, after=after, limit=3):
                assert len(chunk) <= 3
                walked += chunk
                after = chunk[-1]
    assert len(walked) == 7
    assert walked == sorted(walked)


async def test_a_static_segment_walks_its_members(kraliki_client, kraliki_platform, world):
    created = await kraliki_client.post(
        SEGMENTS, headers=world.a.headers, json={"name": "Few", "kind": "static"}
    )
    segment_id = uuid.UUID(created.json()["id"])
    ids = sorted([world.ids["ann"], world.ids["cid"]])
    await kraliki_client.post(
        f"{SEGMENTS}/{segment_id}/members",
        headers=world.a.headers,
        json={"contact_ids": [str(i) for i in ids]},
    )
    with tenant_scope(world.a.tenant_id):
        async with kraliki_platform.database.session() as session:
            assert await segment_contact_ids(session, segment_id) == ids
            assert await segment_contact_ids(session, segment_id, after=ids[0]) == ids[1:]
            assert await count_segment(session, segment_id) == 2


async def test_another_tenants_segment_is_not_found(kraliki_client, kraliki_platform, world):
    created = await kraliki_client.post(SEGMENTS, headers=world.b.headers, json={"name": "B"})
    theirs = uuid.UUID(created.json()["id"])
    with tenant_scope(world.a.tenant_id):
        async with kraliki_platform.database.session() as session:
            with pytest.raises(SegmentNotFoundError):
                await count_segment(session, theirs)
            with pytest.raises(SegmentNotFoundError):
                await segment_contact_ids(session, uuid.uuid4())


async def test_relative_criteria_are_read_at_the_moment_given(kraliki_platform, world):
    from plugins.contacts.filters import where
    from plugins.contacts.models import Contact

    f = ContactFilter(not_called_in_days=30)
    with tenant_scope(world.a.tenant_id):
        async with kraliki_platform.database.session() as session:

            async def count_at(moment):
                statement = select(func.count()).select_from(Contact).where(*where(f, now=moment))
                return await session.scalar(statement)

            assert await count_at(NOW) == 3  # ann (40 days), cid (never), dee (100 days)
            assert await count_at(NOW - timedelta(days=20)) == 2  # ann was called 20 days later
            assert await count_at(NOW + timedelta(days=30)) == 4  # bob too, by then


def test_a_filter_is_stored_as_the_criteria_set():
    f = ContactFilter.model_validate(
        {"tags_any": ["vip"], "country": ["us"], "fields": [{"field": "x", "op": "empty"}]}
    )
    stored = f.to_json()
    assert stored == {
        "tags_any": ["vip"],
        "country": ["US"],
        "fields": [{"field": "x", "op": "empty"}],
    }
    assert ContactFilter.model_validate(stored) == f
