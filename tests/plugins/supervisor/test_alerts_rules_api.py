"""Alert rules through HTTP: create, read, change with ``If-Match``, delete; every value a
kind cannot take in one 422 (``loc``, ``message``); who may read and who may write; audit
records; another organization sees none of it and cannot name this one's subjects."""

from __future__ import annotations

import uuid

from supervisor_dash_helpers import RULES, create_agent, create_queue, ok, user_headers

from kernel.testing import audit_events


async def test_a_rule_is_created_read_changed_and_deleted(
    kraliki_client, kraliki_make_owner, kraliki_platform
):
    client, owner = kraliki_client, await kraliki_make_owner("acme")
    queue_id = await create_queue(client, owner.headers)
    body = {
        "name": "Long wait",
        "kind": "queue_longest_wait",
        "threshold": 60,
        "subject_id": queue_id,
        "severity": "critical",
    }
    created = await client.post(RULES, headers=owner.headers, json=body)
    rule = await ok(created, 201)
    assert created.headers["ETag"] == '"1"'
    assert created.headers["Location"] == f"{RULES}/{rule['id']}"
    assert (rule["kind"], rule["threshold"], rule["subject_id"]) == (
        "queue_longest_wait",
        60.0,
        queue_id,
    )
    assert (rule["severity"], rule["enabled"], rule["version"]) == ("critical", True, 1)

    listed = await ok(await client.get(RULES, headers=owner.headers))
    assert [r["id"] for r in listed["items"]] == [rule["id"]]
    assert listed["next_cursor"] is None

    one = await client.get(f"{RULES}/{rule['id']}", headers=owner.headers)
    assert (await ok(one))["name"] == "Long wait"
    assert one.headers["ETag"] == '"1"'

    stale = {**owner.headers, "If-Match": '"7"'}
    refused = await client.patch(f"{RULES}/{rule['id']}", headers=stale, json={"threshold": 90})
    assert refused.status_code == 412
    assert refused.json()["type"].endswith("/supervisor-alert-rule-changed")

    nothing = await client.patch(
        f"{RULES}/{rule['id']}", headers=owner.headers, json={"name": None}
    )
    assert nothing.status_code == 422, nothing.text

    fresh = {**owner.headers, "If-Match": '"1"'}
    changed = await client.patch(f"{RULES}/{rule['id']}", headers=fresh, json={"threshold": 90})
    assert (await ok(changed))["threshold"] == 90.0
    assert changed.headers["ETag"] == '"2"'

    gone = await client.delete(f"{RULES}/{rule['id']}", headers=fresh)
    assert gone.status_code == 412
    gone = await client.delete(
        f"{RULES}/{rule['id']}", headers={**owner.headers, "If-Match": '"2"'}
    )
    assert gone.status_code == 204
    missing = await client.get(f"{RULES}/{rule['id']}", headers=owner.headers)
    assert missing.status_code == 404
    assert missing.json()["type"].endswith("/supervisor-alert-rule-not-found")

    actions = [
        (e.action, e.target_id)
        for e in await audit_events(kraliki_platform, owner.tenant_id)
        if e.action.startswith("supervisor.alert_rule")
    ]
    assert actions == [
        ("supervisor.alert_rule_created", rule["id"]),
        ("supervisor.alert_rule_updated", rule["id"]),
        ("supervisor.alert_rule_deleted", rule["id"]),
    ]


async def test_every_value_a_kind_cannot_take_is_listed(kraliki_client, kraliki_make_owner):
    client, owner = kraliki_client, await kraliki_make_owner("acme")
    cases = [
        ({"kind": "queue_longest_wait"}, [(["body", "threshold"], "needs a threshold")]),
        ({"kind": "queue_service_level", "threshold": 120}, [(["body", "threshold"], "percent")]),
        ({"kind": "agent_break", "threshold": 0}, [(["body", "threshold"], "above 0")]),
        (
            {"kind": "provider_breaker_open", "threshold": 3, "subject_id": str(uuid.uuid4())},
            [(["body", "threshold"], "no threshold"), (["body", "subject_id"], "no subject")],
        ),
        (
            {"kind": "queue_longest_wait", "threshold": 30, "subject_id": str(uuid.uuid4())},
            [(["body", "subject_id"], "no queue of your organization")],
        ),
        (
            {"kind": "agent_break", "threshold": 5, "subject_id": str(uuid.uuid4())},
            [(["body", "subject_id"], "no agent of your organization")],
        ),
        (
            {"kind": "campaign_abandonment", "threshold": 3, "subject_id": str(uuid.uuid4())},
            [(["body", "subject_id"], "no campaign of your organization")],
        ),
    ]
    for body, expected in cases:
        response = await client.post(RULES, headers=owner.headers, json={"name": "x", **body})
        assert response.status_code == 422, (body, response.text)
        problem = response.json()
        assert problem["type"].endswith("/supervisor-alert-rule-invalid"), problem
        errors = [(e["loc"], e["message"]) for e in problem["errors"]]
        assert len(errors) == len(expected), (body, errors)
        for (loc, message), (want_loc, fragment) in zip(errors, expected, strict=True):
            assert loc == want_loc, (body, errors)
            assert fragment in message, (body, errors)
    listed = await ok(await client.get(RULES, headers=owner.headers))
    assert listed["items"] == []


async def test_agents_may_not_read_rules_and_supervisors_may_write_them(
    kraliki_client, kraliki_make_owner, kraliki_make_user
):
    client, owner = kraliki_client, await kraliki_make_owner("acme")
    agent = await user_headers(client, kraliki_make_user, owner, "agent")
    supervisor = await user_headers(client, kraliki_make_user, owner, "supervisor")
    body = {"name": "Breakers", "kind": "provider_breaker_open"}
    assert (await client.post(RULES, headers=agent, json=body)).status_code == 403
    rule = await ok(await client.post(RULES, headers=supervisor, json=body), 201)
    for path in (RULES, f"{RULES}/{rule['id']}"):
        assert (await client.get(path, headers=agent)).status_code == 403
    assert (await client.patch(f"{RULES}/{rule['id']}", headers=agent, json={})).status_code == 403
    assert (await client.delete(f"{RULES}/{rule['id']}", headers=agent)).status_code == 403
    for path in ("summary", "activity", "alerts", "alerts/history"):
        response = await client.get(f"/api/v1/supervisor/dashboard/{path}", headers=agent)
        assert response.status_code == 403, path


async def test_another_organization_sees_no_rule_and_names_no_subject_here(
    kraliki_client, kraliki_make_owner
):
    client = kraliki_client
    alpha, beta = await kraliki_make_owner("alpha"), await kraliki_make_owner("beta")
    queue_id = await create_queue(client, alpha.headers)
    agent_id = await create_agent(client, alpha.headers)
    body = {"name": "Wait", "kind": "queue_longest_wait", "threshold": 30, "subject_id": queue_id}
    rule = await ok(await client.post(RULES, headers=alpha.headers, json=body), 201)

    assert (await ok(await client.get(RULES, headers=beta.headers)))["items"] == []
    path = f"{RULES}/{rule['id']}"
    assert (await client.get(path, headers=beta.headers)).status_code == 404
    assert (await client.patch(path, headers=beta.headers, json={"name": "y"})).status_code == 404
    assert (await client.delete(path, headers=beta.headers)).status_code == 404
    for kind, subject in (("queue_longest_wait", queue_id), ("agent_break", agent_id)):
        refused = await client.post(
            RULES,
            headers=beta.headers,
            json={"name": "theirs", "kind": kind, "threshold": 5, "subject_id": subject},
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["loc"] == ["body", "subject_id"]
    assert (await client.get(path, headers=alpha.headers)).status_code == 200
