"""Segments through the API: saved filters with counts, static lists, paging, If-Match,
permissions and tenant isolation."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from segments_helpers import SEGMENTS, World, add_contact, agent_headers, build_world

from kernel import tenant_scope


@pytest.fixture
async def world(kraliki_platform, kraliki_make_owner) -> World:
    return await build_world(kraliki_platform, kraliki_make_owner)


async def _create(client: Any, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post(SEGMENTS, headers=headers, json=body)
    assert response.status_code == 201, response.text
    assert response.headers["etag"] == '"1"'
    created: dict[str, Any] = response.json()
    return created


async def _all_contacts(client: Any, headers: dict[str, str], segment_id: str) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = await client.get(f"{SEGMENTS}/{segment_id}/contacts", headers=headers, params=params)
        assert page.status_code == 200, page.text
        ids += [item["id"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return ids


async def test_a_dynamic_segment_counts_and_lists_its_contacts(kraliki_client, world):
    h = world.a.headers
    segment = await _create(
        kraliki_client,
        h,
        name="VIPs not called lately",
        description="for the spring campaign",
        filter={"tags_any": ["vip"], "not_called_in_days": 30},
    )
    assert segment["kind"] == "dynamic"
    assert segment["filter"] == {"tags_any": ["vip"], "not_called_in_days": 30}
    assert segment["version"] == 1

    got = await kraliki_client.get(f"{SEGMENTS}/{segment['id']}", headers=h)
    assert got.status_code == 200
    assert got.headers["etag"] == '"1"'
    assert got.json()["count"] == 2
    uncounted = await kraliki_client.get(f"{SEGMENTS}/{segment['id']}?count=false", headers=h)
    assert uncounted.json()["count"] is None

    ids = await _all_contacts(kraliki_client, h, segment["id"])
    assert ids == sorted(ids)
    assert world.names(ids) == {"ann", "dee"}
    page = await kraliki_client.get(f"{SEGMENTS}/{segment['id']}/contacts", headers=h)
    dee = next(item for item in page.json()["items"] if item["id"] == str(world.ids["dee"]))
    assert dee["name"] == "Dee Park"  # the contact as the contacts list shows it
    assert [p["number"] for p in dee["phones"]] == ["+16135550123", "+14155550199"]
    assert dee["tags"] == ["vip"]


async def test_a_dynamic_segment_follows_its_contacts(kraliki_client, kraliki_platform, world):
    """Evaluated on demand: a new matching contact is in it at once."""
    h = world.a.headers
    segment = await _create(kraliki_client, h, name="East", filter={"tags_any": ["east"]})
    await add_contact(kraliki_platform, world.a.tenant_id, name="Fay", tags=["east"])
    got = await kraliki_client.get(f"{SEGMENTS}/{segment['id']}", headers=h)
    assert got.json()["count"] == 3


async def test_without_a_filter_a_segment_holds_every_contact(kraliki_client, world):
    segment = await _create(kraliki_client, world.a.headers, name="Everyone")
    assert segment["filter"] == {}
    got = await kraliki_client.get(f"{SEGMENTS}/{segment['id']}", headers=world.a.headers)
    assert got.json()["count"] == 4


async def test_segments_are_listed_by_name_a_page_at_a_time(kraliki_client, world):
    h = world.a.headers
    for name in ("Charlie", "alpha", "Bravo"):
        await _create(kraliki_client, h, name=name)
    first = await kraliki_client.get(SEGMENTS, headers=h, params={"limit": 2})
    assert first.status_code == 200
    second = await kraliki_client.get(
        SEGMENTS, headers=h, params={"limit": 2, "cursor": first.json()["next_cursor"]}
    )
    names = [s["name"] for s in first.json()["items"] + second.json()["items"]]
    assert sorted(names) == sorted(["Charlie", "alpha", "Bravo"])
    assert len(set(names)) == 3
    assert second.json()["next_cursor"] is None
    assert all(s["count"] is None for s in first.json()["items"])


async def test_names_are_unique_per_tenant(kraliki_client, world):
    await _create(kraliki_client, world.a.headers, name="Callbacks")
    again = await kraliki_client.post(SEGMENTS, headers=world.a.headers, json={"name": "Callbacks"})
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/contacts-segment-exists"
    other = await _create(kraliki_client, world.a.headers, name="Other")
    renamed = await kraliki_client.patch(
        f"{SEGMENTS}/{other['id']}", headers=world.a.headers, json={"name": "Callbacks"}
    )
    assert renamed.status_code == 409
    # Another organization may use the name.
    await _create(kraliki_client, world.b.headers, name="Callbacks")


async def test_changes_need_the_current_version(kraliki_client, world):
    h = world.a.headers
    segment = await _create(kraliki_client, h, name="Gold", filter={"tags_any": ["vip"]})
    url = f"{SEGMENTS}/{segment['id']}"
    changed = await kraliki_client.patch(
        url,
        headers={**h, "If-Match": '"1"'},
        json={"filter": {"fields": [{"field": "plan", "op": "eq", "value": "gold"}]}},
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] == '"2"'
    assert changed.json()["version"] == 2
    stale = await kraliki_client.patch(
        url, headers={**h, "If-Match": '"1"'}, json={"description": "lost update"}
    )
    assert stale.status_code == 412
    assert stale.json()["type"] == "/problems/contacts-segment-changed"
    assert stale.json()["version"] == 2
    got = await kraliki_client.get(url, headers=h)
    assert got.json()["description"] == ""
    assert got.json()["count"] == 2  # ann and dee ("Gold"): the new filter
    unchanged = await kraliki_client.patch(url, headers={**h, "If-Match": 'W/"2"'}, json={})
    assert unchanged.status_code == 200
    assert unchanged.json()["version"] == 2
    for if_match in ('"1", "2"', "*"):
        response = await kraliki_client.patch(url, headers={**h, "If-Match": if_match}, json={})
        assert response.status_code == 200, if_match
    refused = await kraliki_client.delete(url, headers={**h, "If-Match": '"1"'})
    assert refused.status_code == 412
    deleted = await kraliki_client.delete(url, headers={**h, "If-Match": '"2"'})
    assert deleted.status_code == 204
    assert (await kraliki_client.get(url, headers=h)).status_code == 404


async def test_a_patched_filter_is_validated(kraliki_client, world):
    segment = await _create(kraliki_client, world.a.headers, name="Any")
    response = await kraliki_client.patch(
        f"{SEGMENTS}/{segment['id']}",
        headers=world.a.headers,
        json={"filter": {"fields": [{"field": "nope", "op": "empty"}]}},
    )
    assert response.status_code == 422
    assert response.json()["fields"] == ["nope"]


async def test_a_static_segment_holds_the_contacts_added_to_it(kraliki_client, world):
    h = world.a.headers
    segment = await _create(kraliki_client, h, name="Hand picked", kind="static")
    assert segment["filter"] is None
    members = f"{SEGMENTS}/{segment['id']}/members"
    ann, bob, dee = (str(world.ids[n]) for n in ("ann", "bob", "dee"))
    added = await kraliki_client.post(members, headers=h, json={"contact_ids": [ann, bob, ann]})
    assert added.status_code == 200, added.text
    assert added.json() == {"changed": 2, "count": 2, "version": 2}
    again = await kraliki_client.post(members, headers=h, json={"contact_ids": [bob, dee]})
    assert again.json() == {"changed": 1, "count": 3, "version": 3}
    assert world.names(await _all_contacts(kraliki_client, h, segment["id"])) == {
        "ann",
        "bob",
        "dee",
    }
    removed = await kraliki_client.request(
        "DELETE", members, headers=h, json={"contact_ids": [bob, str(world.ids["cid"])]}
    )
    assert removed.status_code == 200, removed.text
    assert removed.json() == {"changed": 1, "count": 2, "version": 4}
    got = await kraliki_client.get(f"{SEGMENTS}/{segment['id']}", headers=h)
    assert got.json()["count"] == 2
    assert got.headers["etag"] == '"4"'


async def test_unknown_merged_or_foreign_ids_are_refused_and_nothing_is_added(
    kraliki_client, world
):
    h = world.a.headers
    segment = await _create(kraliki_client, h, name="List", kind="static")
    members = f"{SEGMENTS}/{segment['id']}/members"
    stranger, foreign = str(uuid.uuid4()), str(world.b_ids["bea"])
    merged, erased = str(world.ids["mia"]), str(world.ids["eve"])
    response = await kraliki_client.post(
        members,
        headers=h,
        json={"contact_ids": [str(world.ids["ann"]), stranger, foreign, merged, erased]},
    )
    assert response.status_code == 422
    body = response.json()
    assert body["type"] == "/problems/contacts-segment-unknown-contacts"
    assert body["contact_ids"] == [stranger, foreign, merged, erased]
    got = await kraliki_client.get(f"{SEGMENTS}/{segment['id']}", headers=h)
    assert got.json()["count"] == 0
    assert got.json()["version"] == 1
    removing = await kraliki_client.request(
        "DELETE", members, headers=h, json={"contact_ids": [foreign]}
    )
    assert removing.status_code == 422
    assert removing.json()["contact_ids"] == [foreign]


async def test_members_merged_or_erased_later_drop_out(kraliki_client, kraliki_platform, world):
    from plugins.contacts.models import Contact

    h = world.a.headers
    segment = await _create(kraliki_client, h, name="List", kind="static")
    ids = [str(world.ids["ann"]), str(world.ids["bob"])]
    await kraliki_client.post(
        f"{SEGMENTS}/{segment['id']}/members", headers=h, json={"contact_ids": ids}
    )
    with tenant_scope(world.a.tenant_id):
        async with kraliki_platform.database.session() as session:
            bob = await session.get(Contact, (world.a.tenant_id, world.ids["bob"]))
            assert bob is not None
            bob.merged_into_id = world.ids["ann"]
            await session.commit()
    assert world.names(await _all_contacts(kraliki_client, h, segment["id"])) == {"ann"}
    got = await kraliki_client.get(f"{SEGMENTS}/{segment['id']}", headers=h)
    assert got.json()["count"] == 1


async def test_kinds_keep_to_their_own_operations(kraliki_client, world):
    h = world.a.headers
    static = await kraliki_client.post(
        SEGMENTS, headers=h, json={"name": "S", "kind": "static", "filter": {"q": "ann"}}
    )
    assert static.status_code == 422
    assert static.json()["type"] == "/problems/validation-error"
    listed = await _create(kraliki_client, h, name="S", kind="static")
    patched = await kraliki_client.patch(
        f"{SEGMENTS}/{listed['id']}", headers=h, json={"filter": {"q": "ann"}}
    )
    assert patched.status_code == 409
    assert patched.json()["type"] == "/problems/contacts-segment-wrong-kind"
    dynamic = await _create(kraliki_client, h, name="D")
    for method in ("POST", "DELETE"):
        response = await kraliki_client.request(
            method,
            f"{SEGMENTS}/{dynamic['id']}/members",
            headers=h,
            json={"contact_ids": [str(world.ids["ann"])]},
        )
        assert response.status_code == 409, method
        assert response.json()["type"] == "/problems/contacts-segment-wrong-kind"


async def test_preview_counts_and_lists_before_saving(kraliki_client, world):
    response = await kraliki_client.post(
        f"{SEGMENTS}/preview?limit=1",
        headers=world.a.headers,
        json={"filter": {"has_number": True}},
    )
    assert response.status_code == 200, response.text
    assert response.json()["count"] == 3
    assert len(response.json()["items"]) == 1
    assert (await kraliki_client.get(SEGMENTS, headers=world.a.headers)).json()["items"] == []


async def test_agents_read_segments_but_do_not_change_them(
    kraliki_client, kraliki_make_user, world
):
    h = world.a.headers
    segment = await _create(kraliki_client, h, name="Seen", kind="static")
    agent = await agent_headers(kraliki_client, kraliki_make_user, world.a)
    url = f"{SEGMENTS}/{segment['id']}"
    assert (await kraliki_client.get(SEGMENTS, headers=agent)).status_code == 200
    assert (await kraliki_client.get(url, headers=agent)).status_code == 200
    assert (await kraliki_client.get(f"{url}/contacts", headers=agent)).status_code == 200
    preview = await kraliki_client.post(f"{SEGMENTS}/preview", headers=agent, json={})
    assert preview.status_code == 200
    members = {"contact_ids": [str(world.ids["ann"])]}
    writes = [
        ("POST", SEGMENTS, {"name": "Mine"}),
        ("PATCH", url, {"name": "Renamed"}),
        ("DELETE", url, None),
        ("POST", f"{url}/members", members),
        ("DELETE", f"{url}/members", members),
    ]
    for method, path, body in writes:
        response = await kraliki_client.request(method, path, headers=agent, json=body)
        assert response.status_code == 403, (method, path)
        assert response.json()["type"] == "/problems/forbidden"
    got = await kraliki_client.get(url, headers=h)
    assert got.json()["name"] == "Seen"
    assert got.json()["count"] == 0


async def test_one_tenant_never_sees_anothers_segments(kraliki_client, world):
    a, b = world.a.headers, world.b.headers
    theirs = await _create(kraliki_client, b, name="B list", kind="static")
    await kraliki_client.post(
        f"{SEGMENTS}/{theirs['id']}/members",
        headers=b,
        json={"contact_ids": [str(world.b_ids["bea"])]},
    )
    ours = await _create(kraliki_client, a, name="A list", kind="static")
    url = f"{SEGMENTS}/{theirs['id']}"
    for method, path, body in [
        ("GET", url, None),
        ("GET", f"{url}/contacts", None),
        ("PATCH", url, {"name": "taken"}),
        ("DELETE", url, None),
        ("POST", f"{url}/members", {"contact_ids": [str(world.ids["ann"])]}),
    ]:
        response = await kraliki_client.request(method, path, headers=a, json=body)
        assert response.status_code == 404, (method, path)
        assert response.json()["type"] == "/problems/contacts-segment-not-found"
    listed = await kraliki_client.get(SEGMENTS, headers=a)
    assert [s["id"] for s in listed.json()["items"]] == [ours["id"]]
    assert await _all_contacts(kraliki_client, a, ours["id"]) == []
    still = await kraliki_client.get(url, headers=b)
    assert still.json()["count"] == 1
    assert still.json()["name"] == "B list"
