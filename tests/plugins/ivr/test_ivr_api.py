"""The flows API over HTTP: drafts, validation, publishing, versions, rollback, the
simulator, saved tests and their runs, samples, settings."""

from __future__ import annotations

import httpx
import pytest
from ivr_helpers import MONDAY_10AM, flow

pytestmark = pytest.mark.usefixtures("tenant")

GREETING = flow(
    "hello",
    hello={"type": "say", "text": "Hello.", "exits": {"next": "bye"}},
    bye={"type": "hangup", "message": "Bye."},
)


async def create(client: httpx.AsyncClient, name: str = "Main", draft: dict | None = None) -> dict:
    body: dict = {"name": name}
    if draft is not None:
        body["draft"] = draft
    response = await client.post("/api/v1/ivr/flows", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def publish(client: httpx.AsyncClient, flow_id: str, note: str = "") -> httpx.Response:
    return await client.post(f"/api/v1/ivr/flows/{flow_id}/publish", json={"note": note})


async def test_create_list_get_and_the_default_draft(client):
    created = await create(client)
    assert created["current_version"] is None
    assert created["draft"]["start"] == "welcome"
    listed = (await client.get("/api/v1/ivr/flows")).json()["items"]
    assert [f["id"] for f in listed] == [created["id"]]
    got = await client.get(f"/api/v1/ivr/flows/{created['id']}")
    assert got.headers["etag"] == '"1"'
    duplicate = await client.post("/api/v1/ivr/flows", json={"name": "Main"})
    assert duplicate.status_code == 409
    assert duplicate.json()["type"].endswith("/ivr-flow-exists")


async def test_an_invalid_document_is_a_422(client):
    response = await client.post(
        "/api/v1/ivr/flows", json={"name": "x", "draft": {"nodes": {}, "extra": 1}}
    )
    assert response.status_code == 422


async def test_update_the_draft_with_if_match(client):
    created = await create(client)
    url = f"/api/v1/ivr/flows/{created['id']}"
    changed = await client.patch(url, json={"draft": GREETING}, headers={"If-Match": '"1"'})
    assert changed.status_code == 200
    assert changed.json()["draft_revision"] == 2
    stale = await client.patch(url, json={"description": "x"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["type"].endswith("/ivr-draft-changed")


async def test_validate_reports_issues(client):
    created = await create(
        client, draft=flow("a", a={"type": "say", "text": "Hi", "exits": {"next": "zz"}})
    )
    report = (await client.post(f"/api/v1/ivr/flows/{created['id']}/validate")).json()
    assert report["valid"] is False
    assert report["issues"] == [
        {
            "code": "dangling-exit",
            "node": "a",
            "field": "exits.next",
            "message": "exit 'next' leads to 'zz', which is not a node",
        }
    ]
    refused = await publish(client, created["id"])
    assert refused.status_code == 422
    assert refused.json()["issues"][0]["code"] == "dangling-exit"


async def test_publish_versions_and_rollback(client):
    created = await create(client, draft=GREETING)
    url = f"/api/v1/ivr/flows/{created['id']}"
    first = await publish(client, created["id"], "first")
    assert first.status_code == 201
    assert first.json()["number"] == 1
    changed = dict(
        GREETING,
        nodes=dict(
            GREETING["nodes"], hello={"type": "say", "text": "Hi again.", "exits": {"next": "bye"}}
        ),
    )
    await client.patch(url, json={"draft": changed})
    assert (await publish(client, created["id"])).json()["number"] == 2
    versions = (await client.get(f"{url}/versions")).json()
    assert [(v["number"], v["current"], v["note"]) for v in versions] == [
        (1, False, "first"),
        (2, True, ""),
    ]
    one = (await client.get(f"{url}/versions/1")).json()
    assert one["document"]["nodes"]["hello"]["text"] == "Hello."
    rolled = await client.post(f"{url}/rollback", json={"version": 1})
    assert rolled.json() == {**rolled.json(), "number": 1, "current": True}
    assert (await client.get(url)).json()["current_version"] == 1
    simulated = await client.post(f"{url}/simulate", json={"version": "current"})
    assert simulated.json()["prompts"][0] == "Hello."
    assert (await client.post(f"{url}/rollback", json={"version": 9})).status_code == 404


async def test_simulate_the_draft(client):
    created = await create(client, draft=GREETING)
    response = await client.post(
        f"/api/v1/ivr/flows/{created['id']}/simulate", json={"caller": "+15550100"}
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["path"] == ["hello:next", "bye:ended"]
    assert result["prompts"] == ["Hello.", "Bye.", "[hangup]"]
    assert result["outcome"]["kind"] == "hangup"
    not_published = await client.post(
        f"/api/v1/ivr/flows/{created['id']}/simulate", json={"version": "current"}
    )
    assert not_published.status_code == 409


async def test_the_sample_imports_and_its_tests_pass(client):
    samples = (await client.get("/api/v1/ivr/samples")).json()
    assert [s["name"] for s in samples] == ["front-desk"]
    imported = await client.post("/api/v1/ivr/samples/front-desk/import")
    assert imported.status_code == 201, imported.text
    flow_id = imported.json()["id"]
    tests = (await client.get(f"/api/v1/ivr/flows/{flow_id}/tests")).json()
    assert len(tests) == 9
    report = (await client.post(f"/api/v1/ivr/flows/{flow_id}/tests/run", json={})).json()
    assert report["failed"] == 0, report
    assert report["passed"] == 9
    assert report["coverage"]["nodes"]["percent"] == 100.0
    assert report["coverage"]["branches"]["covered"] >= 12
    tests = (await client.get(f"/api/v1/ivr/flows/{flow_id}/tests")).json()
    assert {t["last_passed"] for t in tests} == {True}
    assert (await client.post("/api/v1/ivr/samples/nope/import")).status_code == 404


async def test_saved_tests_crud_and_a_failing_one(client):
    created = await create(client, draft=GREETING)
    base = f"/api/v1/ivr/flows/{created['id']}/tests"
    body = {
        "name": "greets",
        "script": {"at": MONDAY_10AM},
        "expect": {"prompts_include": ["Hello."]},
    }
    test = (await client.post(base, json=body)).json()
    assert (await client.post(base, json=body)).status_code == 422  # same name
    wrong = {"expect": {"outcome": "transferred", "path": ["hello:next"]}}
    changed = await client.put(f"{base}/{test['id']}", json=wrong)
    assert changed.json()["expect"]["outcome"] == "transferred"
    report = (await client.post(f"{base}/run", json={"version": "draft"})).json()
    [result] = report["results"]
    assert result["passed"] is False
    assert result["failures"] == [
        "outcome is 'hangup', expected 'transferred'",
        "path is ['hello:next', 'bye:ended'], expected ['hello:next']",
    ]
    assert (await client.get(f"{base}/{test['id']}")).json()["last_passed"] is False
    assert (await client.delete(f"{base}/{test['id']}")).status_code == 204
    assert (await client.get(f"{base}/{test['id']}")).status_code == 404


async def test_publishing_can_require_passing_tests(client):
    created = await create(client, draft=GREETING)
    settings = await client.put("/api/v1/ivr/settings", json={"require_passing_tests": True})
    assert settings.json() == {"require_passing_tests": True}
    none = await publish(client, created["id"])
    assert none.status_code == 409
    assert none.json()["detail"] == "the flow has no saved tests"
    base = f"/api/v1/ivr/flows/{created['id']}/tests"
    bad = {"name": "b", "script": {}, "expect": {"outcome": "voicemail"}}
    good = {"name": "g", "script": {}, "expect": {"outcome": "hangup"}}
    bad_test = (await client.post(base, json=bad)).json()
    await client.post(base, json=good)
    failing = await publish(client, created["id"])
    assert failing.status_code == 409
    assert failing.json()["failed"] == ["b"]
    await client.delete(f"{base}/{bad_test['id']}")
    ok = await publish(client, created["id"])
    assert ok.status_code == 201
    assert ok.json()["tests"]["passed"] == 1


async def test_node_types_are_listed_with_schemas(client):
    types = {t["name"]: t for t in (await client.get("/api/v1/ivr/node-types")).json()}
    assert {
        "say",
        "play",
        "language",
        "gather",
        "menu",
        "business_hours",
        "condition",
        "set",
        "http_lookup",
        "transfer",
        "voicemail",
        "hangup",
        "subflow",
        "return",
    } <= set(types)
    assert types["gather"]["waits"] is True
    assert "branches" in types["gather"]["schema"]["properties"]


async def test_a_flow_in_use_cannot_be_deleted(client):
    created = await create(client, draft=GREETING)
    await publish(client, created["id"])
    number = await client.post(
        "/api/v1/calls/numbers",
        json={
            "number": "+14155550100",
            "provider": "loopback",
            "route": "ivr",
            "ivr_flow_id": created["id"],
        },
    )
    assert number.status_code == 201, number.text
    refused = await client.delete(f"/api/v1/ivr/flows/{created['id']}")
    assert refused.status_code == 409
    assert refused.json()["used_by"] == ["number +14155550100"]
    await client.delete(f"/api/v1/calls/numbers/{number.json()['id']}")
    assert (await client.delete(f"/api/v1/ivr/flows/{created['id']}")).status_code == 204


async def test_a_number_cannot_route_to_an_unpublished_or_unknown_flow(client):
    created = await create(client, draft=GREETING)
    body = {
        "number": "+14155550100",
        "provider": "loopback",
        "route": "ivr",
        "ivr_flow_id": created["id"],
    }
    response = await client.post("/api/v1/calls/numbers", json=body)
    assert response.status_code == 422
    assert response.json()["type"].endswith("/calls-handler-unavailable")
    assert "no published version" in response.json()["detail"]
    body["ivr_flow_id"] = "00000000-0000-0000-0000-000000000000"
    assert (await client.post("/api/v1/calls/numbers", json=body)).status_code == 422


async def test_a_flow_run_by_another_flows_published_version_is_in_use(client):
    sub = await create(client, "Sub", GREETING)
    await publish(client, sub["id"])
    runs_it = flow(
        "go",
        go={"type": "subflow", "flow_id": sub["id"], "exits": {"next": "end"}},
        end={"type": "hangup"},
    )
    main = await create(client, "Main", runs_it)
    await publish(client, main["id"])
    await client.patch(f"/api/v1/ivr/flows/{main['id']}", json={"draft": GREETING})
    refused = await client.delete(f"/api/v1/ivr/flows/{sub['id']}")
    assert refused.status_code == 409
    assert refused.json()["used_by"] == ["flow Main"]


async def test_importing_a_sample_twice_is_a_conflict_not_an_error(client):
    assert (await client.post("/api/v1/ivr/samples/front-desk/import")).status_code == 201
    again = await client.post("/api/v1/ivr/samples/front-desk/import")
    assert again.status_code == 409, again.text
    assert again.json()["type"] == "/problems/ivr-flow-exists"
    assert len((await client.get("/api/v1/ivr/flows")).json()["items"]) == 1
