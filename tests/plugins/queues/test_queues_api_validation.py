"""Every value a queue refuses answers 422 with `errors` items naming the place (`loc`) and
the reason (`message`), all wrong values at once."""

from __future__ import annotations

import uuid

from queues_helpers import BASE, add_agent, create_queue, errors_of, published_flow

from kernel.testing import TenantOwner

MALFORMED = [
    ({}, ("body", "name")),
    ({"name": "   "}, ("body", "name")),
    ({"name": "x" * 101}, ("body", "name")),
    ({"name": "Q", "strategy": "random"}, ("body", "strategy")),
    ({"name": "Q", "required_skills": [{"skill": "x", "min_level": 0}]}, None),
    ({"name": "Q", "required_skills": [{"skill": "x", "min_level": 11}]}, None),
    ({"name": "Q", "required_skills": [{"skill": "", "min_level": 3}]}, None),
    ({"name": "Q", "service_level_seconds": 0}, ("body", "service_level_seconds")),
    ({"name": "Q", "service_level_target": 101}, ("body", "service_level_target")),
    ({"name": "Q", "max_wait_seconds": 5}, ("body", "max_wait_seconds")),
    ({"name": "Q", "max_size": 0}, ("body", "max_size")),
    ({"name": "Q", "callback_key": "12"}, ("body", "callback_key")),
    ({"name": "Q", "callback_key": "a"}, ("body", "callback_key")),
    ({"name": "Q", "announce_every_seconds": 1}, ("body", "announce_every_seconds")),
    ({"name": "Q", "wrap_up_seconds": -1}, ("body", "wrap_up_seconds")),
    ({"name": "Q", "offer_timeout_seconds": 1}, ("body", "offer_timeout_seconds")),
    ({"name": "Q", "overflow": {"kind": "elsewhere"}}, ("body", "overflow", "kind")),
    ({"name": "Q", "agent_ids": ["not-a-uuid"]}, ("body", "agent_ids", 0)),
    ({"name": "Q", "colour": "red"}, ("body", "colour")),
]


async def test_malformed_values_are_validation_errors(client, owner):
    """One app for every case (building one per case costs seconds)."""
    for body, loc in MALFORMED:
        for method, url in (("POST", BASE), ("PATCH", f"{BASE}/{uuid.uuid4()}")):
            response = await client.request(method, url, headers=owner.headers, json=body)
            if method == "PATCH" and body.get("name") is None:
                continue  # a change need not name the queue
            assert response.json()["type"] == "/problems/validation-error", (body, method)
            locs = [place for place, _message in errors_of(response)]
            if loc is not None:
                assert loc in locs, (body, method)
            else:
                assert all(place[:3] == ("body", "required_skills", 0) for place in locs)


async def test_every_wrong_reference_is_listed_at_once(client, owner, platform, tenant_id):
    ada = await add_agent(platform, tenant_id, "Ada")
    missing_agent, missing_team = uuid.uuid4(), uuid.uuid4()
    response = await client.post(
        BASE,
        headers=owner.headers,
        json={
            "name": "Q",
            "strategy": "skills",
            "required_skills": [
                {"skill": "billing", "min_level": 2},
                {"skill": "Billing", "min_level": 4},
            ],
            "agent_ids": [str(ada), str(missing_agent)],
            "team_ids": [str(missing_team)],
            "overflow": {"kind": "queue", "queue_id": str(uuid.uuid4())},
            "music_url": "ftp://music.example.com/hold.mp3",
        },
    )
    assert response.json()["type"] == "/problems/queues-queue-invalid"
    assert sorted(errors_of(response)) == sorted(
        [
            (("body", "required_skills", 1, "skill"), "this skill is required twice"),
            (("body", "music_url"), "must be an http:// or https:// URL with a host"),
            (("body", "overflow", "queue_id"), "no queue of the organization has this id"),
            (("body", "agent_ids", 1), "no agent of the organization has this id"),
            (("body", "team_ids", 0), "no team of the organization has this id"),
        ]
    )


async def test_the_skills_strategy_needs_required_skills(client, owner):
    refused = await client.post(
        BASE, headers=owner.headers, json={"name": "Q", "strategy": "skills"}
    )
    assert errors_of(refused) == [
        (("body", "strategy"), "the skills strategy needs at least one required skill")
    ]
    queue = await create_queue(
        client,
        owner.headers,
        strategy="skills",
        required_skills=[{"skill": "billing", "min_level": 2}],
    )
    emptied = await client.patch(
        f"{BASE}/{queue['id']}", headers=owner.headers, json={"required_skills": []}
    )
    assert errors_of(emptied)[0][0] == ("body", "strategy")


async def test_null_is_refused_where_a_queue_needs_a_value(client, owner):
    queue = await create_queue(client, owner.headers)
    response = await client.patch(
        f"{BASE}/{queue['id']}",
        headers=owner.headers,
        json={"name": None, "strategy": None, "max_wait_seconds": None},
    )
    assert sorted(errors_of(response)) == [
        (("body", "name"), "may not be null"),
        (("body", "strategy"), "may not be null"),
    ]


async def test_a_music_url_must_be_one_a_provider_can_fetch(client, owner):
    for url, message in [
        ("https://user:secret@cdn.example.com/a.mp3", "must not carry credentials"),
        ("https:///no-host.mp3", "must be an http:// or https:// URL with a host"),
        ("javascript:alert(1)", "must be an http:// or https:// URL with a host"),
    ]:
        response = await client.post(
            BASE, headers=owner.headers, json={"name": "Q", "music_url": url}
        )
        assert errors_of(response)[0][0] == ("body", "music_url"), url
        assert errors_of(response)[0][1].startswith(message), url
    fine = await create_queue(client, owner.headers, music_url="http://music.example.com/a.wav")
    assert fine["music_url"] == "http://music.example.com/a.wav"


async def test_an_overflow_into_a_queue_must_not_loop(client, owner):
    first = await create_queue(client, owner.headers, "First")
    second = await create_queue(
        client, owner.headers, "Second", overflow={"kind": "queue", "queue_id": first["id"]}
    )
    itself = await client.patch(
        f"{BASE}/{first['id']}",
        headers=owner.headers,
        json={"overflow": {"kind": "queue", "queue_id": first["id"]}},
    )
    assert errors_of(itself) == [
        (("body", "overflow", "queue_id"), "a queue cannot overflow into itself")
    ]
    loop = await client.patch(
        f"{BASE}/{first['id']}",
        headers=owner.headers,
        json={"overflow": {"kind": "queue", "queue_id": second["id"]}},
    )
    assert errors_of(loop) == [
        (
            ("body", "overflow", "queue_id"),
            "the target's overflow leads back to this queue (callers would loop)",
        )
    ]


async def test_an_overflow_names_only_what_its_kind_uses(client, owner):
    response = await client.post(
        BASE,
        headers=owner.headers,
        json={
            "name": "Q",
            "overflow": {"kind": "ivr", "queue_id": str(uuid.uuid4()), "message": "Hello"},
        },
    )
    assert sorted(errors_of(response)) == [
        (("body", "overflow", "flow_id"), "required for overflow kind ivr"),
        (("body", "overflow", "message"), "not used by overflow kind ivr"),
        (("body", "overflow", "node_id"), "required for overflow kind ivr"),
        (("body", "overflow", "queue_id"), "not used by overflow kind ivr"),
    ]
    missing = await client.post(
        BASE, headers=owner.headers, json={"name": "Q", "overflow": {"kind": "queue"}}
    )
    assert errors_of(missing) == [
        (("body", "overflow", "queue_id"), "required for overflow kind queue")
    ]


async def test_an_ivr_overflow_needs_a_published_flow_with_the_node(client, owner):
    flow_id = await published_flow(client, owner.headers)
    cases = [
        (
            {"flow_id": str(uuid.uuid4()), "node_id": "menu"},
            ("body", "overflow", "flow_id"),
            "no flow of the organization has this id",
        ),
        (
            {"flow_id": flow_id, "node_id": "nowhere"},
            ("body", "overflow", "node_id"),
            "the flow's published version has no node 'nowhere'",
        ),
    ]
    draft = await client.post(
        "/api/v1/ivr/flows",
        headers=owner.headers,
        json={"name": "Draft only", "draft": {"start": "a", "nodes": {"a": {"type": "hangup"}}}},
    )
    cases.append(
        (
            {"flow_id": draft.json()["id"], "node_id": "a"},
            ("body", "overflow", "flow_id"),
            "the flow has no published version yet",
        )
    )
    for target, loc, message in cases:
        response = await client.post(
            BASE, headers=owner.headers, json={"name": "Q", "overflow": {"kind": "ivr", **target}}
        )
        assert errors_of(response) == [(loc, message)]


async def test_another_organizations_members_and_queues_do_not_exist(
    client, owner, platform, kraliki_make_owner
):
    beta: TenantOwner = await kraliki_make_owner("beta")
    theirs = await add_agent(platform, beta.tenant_id, "Theirs")
    their_queue = await create_queue(client, beta.headers, "Theirs")
    their_flow = await published_flow(client, beta.headers)
    response = await client.post(
        BASE,
        headers=owner.headers,
        json={
            "name": "Q",
            "agent_ids": [str(theirs)],
            "overflow": {"kind": "queue", "queue_id": their_queue["id"]},
        },
    )
    assert sorted(errors_of(response)) == [
        (("body", "agent_ids", 0), "no agent of the organization has this id"),
        (("body", "overflow", "queue_id"), "no queue of the organization has this id"),
    ]
    flow = await client.post(
        BASE,
        headers=owner.headers,
        json={"name": "Q", "overflow": {"kind": "ivr", "flow_id": their_flow, "node_id": "menu"}},
    )
    assert errors_of(flow) == [
        (("body", "overflow", "flow_id"), "no flow of the organization has this id")
    ]
