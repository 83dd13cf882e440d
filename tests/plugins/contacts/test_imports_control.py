"""Cancelling, failing and resuming imports (exactly the committed rows landed, never
twice), mappings checked and saved, permissions and tenants."""

from __future__ import annotations

import asyncio
import uuid

import imports_helpers
import pytest
from imports_helpers import IMPORTS, contacts, csv_bytes, drive, upload

from kernel import tenant_scope
from kernel.testing import login, published_events
from plugins.contacts.imports import job as import_job
from plugins.contacts.imports import runner
from plugins.contacts.imports.runner import process

kraliki_app, platform, owner, import_settings = imports_helpers.FIXTURES

FIVE = csv_bytes("Name,Phone", *(f"Person {i},+1201555010{i}" for i in range(1, 6)))
TWO_PER_BATCH = pytest.mark.parametrize("import_settings", [{"import_batch_rows": 2}])


async def _uploaded(client, owner, content=FIVE) -> str:
    response = await upload(client, owner.headers, content)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def _start(client, owner, import_id, **body):
    response = await client.post(f"{IMPORTS}/{import_id}/start", headers=owner.headers, json=body)
    assert response.status_code == 202, response.text
    return response.json()


async def _state(client, owner, import_id):
    return (await client.get(f"{IMPORTS}/{import_id}", headers=owner.headers)).json()


@TWO_PER_BATCH
async def test_cancel_stops_at_a_batch_boundary(kraliki_client, owner, platform, monkeypatch):
    monkeypatch.setattr(import_job, "BATCHES_PER_RUN", 1)
    import_id = await _uploaded(kraliki_client, owner)
    await _start(kraliki_client, owner, import_id)
    await platform.jobs.run_due(platform)
    assert (await _state(kraliki_client, owner, import_id))["rows_done"] == 2
    cancelled = await kraliki_client.post(f"{IMPORTS}/{import_id}/cancel", headers=owner.headers)
    assert cancelled.status_code == 202
    assert cancelled.json()["cancel_requested"] is True
    assert cancelled.json()["status"] == "running"
    state = await drive(platform, kraliki_client, owner.headers, import_id)
    assert (state["status"], state["rows_done"], state["landed_rows"]) == ("cancelled", 2, 2)
    assert state["landed"] == (
        "The import was cancelled after row 3: rows 2-3 landed (2 created, 0 updated, "
        "0 skipped, 0 failed); no row after 3 was imported."
    )
    names = sorted(c["name"] for c in await contacts(platform, owner.tenant_id))
    assert names == ["Person 1", "Person 2"]
    events = [n for n, _ in await published_events(platform, owner.tenant_id) if "import" in n]
    assert events == [
        "contacts.import.started",
        "contacts.import.progressed",
        "contacts.import.cancelled",
    ]
    again = await kraliki_client.post(f"{IMPORTS}/{import_id}/cancel", headers=owner.headers)
    assert again.status_code == 409


async def test_cancel_before_it_runs(kraliki_client, owner, platform):
    import_id = await _uploaded(kraliki_client, owner)
    await _start(kraliki_client, owner, import_id)
    cancelled = await kraliki_client.post(f"{IMPORTS}/{import_id}/cancel", headers=owner.headers)
    assert cancelled.json()["status"] == "cancelled"
    assert (
        cancelled.json()["landed"]
        == "The import was cancelled before any row was imported: nothing landed."
    )
    await platform.jobs.run_due(platform)
    assert await contacts(platform, owner.tenant_id) == []


@TWO_PER_BATCH
async def test_a_failure_says_which_rows_landed(kraliki_client, owner, platform, monkeypatch):
    real = runner._Run._create
    calls = 0

    async def second_batch_breaks(self, session, entries):
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("disk on fire, Person 3")
        await real(self, session, entries)

    monkeypatch.setattr(runner._Run, "_create", second_batch_breaks)
    import_id = await _uploaded(kraliki_client, owner)
    await _start(kraliki_client, owner, import_id)
    state = await drive(platform, kraliki_client, owner.headers, import_id)
    assert (state["status"], state["rows_done"], state["created"]) == ("failed", 2, 2)
    assert state["error"] == "RuntimeError while importing rows after row 3"  # no row data
    assert state["landed"].startswith("The import failed after row 3: rows 2-3 landed")
    names = sorted(c["name"] for c in await contacts(platform, owner.tenant_id))
    assert names == ["Person 1", "Person 2"]
    failed = [
        p
        for n, p in await published_events(platform, owner.tenant_id)
        if n == "contacts.import.failed"
    ]
    assert failed[0]["rows_done"] == 2


@TWO_PER_BATCH
async def test_a_crashed_run_resumes_without_importing_twice(
    kraliki_client, owner, platform, monkeypatch
):
    real = runner._Run._create
    calls = 0

    async def worker_dies_in_second_batch(self, session, entries):
        nonlocal calls
        calls += 1
        await real(self, session, entries)
        if calls == 2:
            raise asyncio.CancelledError  # the worker stops mid-transaction

    import_id = await _uploaded(kraliki_client, owner)
    await _start(kraliki_client, owner, import_id)
    monkeypatch.setattr(runner._Run, "_create", worker_dies_in_second_batch)
    with pytest.raises(asyncio.CancelledError):
        await _run_scoped(platform, owner, import_id)
    state = await _state(kraliki_client, owner, import_id)
    assert (state["status"], state["rows_done"]) == ("running", 2)
    monkeypatch.setattr(runner._Run, "_create", real)
    state = await drive(platform, kraliki_client, owner.headers, import_id)  # the next run
    assert (state["status"], state["rows_done"], state["created"]) == ("completed", 5, 5)
    names = sorted(c["name"] for c in await contacts(platform, owner.tenant_id))
    assert names == [f"Person {i}" for i in range(1, 6)]


async def _run_scoped(platform, owner, import_id, **options):
    with tenant_scope(owner.tenant_id):
        return await process(platform, uuid.UUID(import_id), **options)


@TWO_PER_BATCH
async def test_two_runs_at_once_land_each_row_once(kraliki_client, owner, platform):
    """A run whose lease ran out while it still works, and the run that took over."""
    import_id = await _uploaded(kraliki_client, owner)
    await _start(kraliki_client, owner, import_id)
    await asyncio.gather(*(_run_scoped(platform, owner, import_id) for _ in range(3)))
    state = await drive(platform, kraliki_client, owner.headers, import_id)
    assert (state["status"], state["rows_done"], state["created"]) == ("completed", 5, 5)
    assert len(await contacts(platform, owner.tenant_id)) == 5


async def test_mappings_are_checked(kraliki_client, owner):
    import_id = await _uploaded(kraliki_client, owner)
    bad = {
        "mapping": {"Name": "name", "Fax": "phones", "Phone": "custom_fields.nope"},
        "match_on": "email",
    }
    response = await kraliki_client.post(
        f"{IMPORTS}/{import_id}/start", headers=owner.headers, json=bad
    )
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "/problems/contacts-import-invalid-mapping"
    assert [(e["field"], e["reason"]) for e in response.json()["errors"]] == [
        ("Fax", "the file has no such column"),
        ("Phone", "no custom field 'nope'"),
        ("match_on", "matching on email needs a column mapped to emails"),
    ]
    nothing = {"mapping": {"Name": "ignore", "Phone": "ignore"}}
    response = await kraliki_client.post(
        f"{IMPORTS}/{import_id}/start", headers=owner.headers, json=nothing
    )
    assert response.json()["errors"][0]["field"] == "mapping"
    typo = {"mapping": {"Name": "nmae", "Phone": "phones:pager"}}
    response = await kraliki_client.post(
        f"{IMPORTS}/{import_id}/start", headers=owner.headers, json=typo
    )
    assert [e["field"] for e in response.json()["errors"]] == ["Name", "Phone"]
    assert (await _state(kraliki_client, owner, import_id))["status"] == "uploaded"


async def test_saved_mappings(kraliki_client, owner, platform):
    mappings = f"{IMPORTS}/mappings"
    body = {
        "name": "CRM export",
        "mapping": {"Full name": "name", "Tel": "phones"},
        "duplicates": "update",
    }
    created = await kraliki_client.post(mappings, headers=owner.headers, json=body)
    assert created.status_code == 201, created.text
    mapping_id = created.json()["id"]
    again = await kraliki_client.post(mappings, headers=owner.headers, json=body)
    assert again.status_code == 409
    wrong = await kraliki_client.post(
        mappings, headers=owner.headers, json={"name": "x", "mapping": {"A": "nope"}}
    )
    assert wrong.status_code == 422
    listed = await kraliki_client.get(mappings, headers=owner.headers)
    assert [m["name"] for m in listed.json()["items"]] == ["CRM export"]
    patched = await kraliki_client.patch(
        f"{mappings}/{mapping_id}", headers=owner.headers, json={"match_on": "phone"}
    )
    assert patched.json()["match_on"] == "phone"
    content = csv_bytes("Full name,Tel,Extra", "Ana,2015550101,x")
    import_id = await _uploaded(kraliki_client, owner, content)
    started = await _start(kraliki_client, owner, import_id, mapping_id=mapping_id)
    assert started["mapping"] == {"Full name": "name", "Tel": "phones"}
    assert (started["duplicates"], started["match_on"]) == ("update", "phone")
    state = await drive(platform, kraliki_client, owner.headers, import_id)
    assert state["created"] == 1
    deleted = await kraliki_client.delete(f"{mappings}/{mapping_id}", headers=owner.headers)
    assert deleted.status_code == 204
    assert (
        await kraliki_client.get(f"{mappings}/{mapping_id}", headers=owner.headers)
    ).status_code == 404


async def test_delete_keeps_the_contacts(kraliki_client, owner, platform):
    import_id = await _uploaded(kraliki_client, owner)
    await _start(kraliki_client, owner, import_id)
    assert (
        await kraliki_client.delete(f"{IMPORTS}/{import_id}", headers=owner.headers)
    ).status_code == 409
    await drive(platform, kraliki_client, owner.headers, import_id)
    assert (
        await kraliki_client.delete(f"{IMPORTS}/{import_id}", headers=owner.headers)
    ).status_code == 204
    assert (
        await kraliki_client.get(f"{IMPORTS}/{import_id}", headers=owner.headers)
    ).status_code == 404
    assert len(await contacts(platform, owner.tenant_id)) == 5


async def test_agents_cannot_import_or_export(kraliki_client, owner, kraliki_make_user):
    await kraliki_make_user(owner.tenant_id, "agent@acme.example.com", roles=["agent"])
    agent = await login(kraliki_client, "agent@acme.example.com", tenant="acme")
    import_id = await _uploaded(kraliki_client, owner)
    assert (await upload(kraliki_client, agent, FIVE)).status_code == 403
    for method, path in (
        ("GET", IMPORTS),
        ("GET", f"{IMPORTS}/{import_id}"),
        ("POST", f"{IMPORTS}/{import_id}/start"),
        ("GET", f"{IMPORTS}/{import_id}/errors.csv"),
        ("GET", f"{IMPORTS}/mappings"),
        ("GET", "/api/v1/contacts/export.csv"),
    ):
        response = await kraliki_client.request(
            method, path, headers=agent, json={} if method == "POST" else None
        )
        assert response.status_code == 403, (path, response.text)


async def test_another_tenant_cannot_touch_an_import(kraliki_client, owner, kraliki_make_owner):
    other = await kraliki_make_owner("other")
    import_id = await _uploaded(kraliki_client, owner)
    for method, path in (
        ("GET", f"{IMPORTS}/{import_id}"),
        ("POST", f"{IMPORTS}/{import_id}/start"),
        ("POST", f"{IMPORTS}/{import_id}/cancel"),
        ("GET", f"{IMPORTS}/{import_id}/errors"),
        ("GET", f"{IMPORTS}/{import_id}/errors.csv"),
        ("DELETE", f"{IMPORTS}/{import_id}"),
    ):
        response = await kraliki_client.request(
            method, path, headers=other.headers, json={} if method == "POST" else None
        )
        assert response.status_code == 404, (path, response.text)
    assert (await kraliki_client.get(IMPORTS, headers=other.headers)).json()["items"] == []
    assert (await _state(kraliki_client, owner, import_id))["status"] == "uploaded"


async def test_a_broken_multipart_form_is_refused(kraliki_client, owner):
    response = await kraliki_client.post(
        IMPORTS,
        headers={**owner.headers, "Content-Type": "multipart/form-data; boundary=b0undary"},
        content=b"False--b0undary--\r\n",
    )
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "/problems/contacts-import-unreadable"


async def test_a_mapping_of_odd_column_names_is_refused_clearly(kraliki_client, owner):
    """A column named like a digit that is not one (``²``) still gets a 422 naming it."""
    response = await kraliki_client.post(
        f"{IMPORTS}/mappings",
        headers=owner.headers,
        json={"name": "odd", "mapping": {"²": "", "{": "nope"}},
    )
    assert response.status_code == 422, response.text
    assert ["body", "²"] in [e["loc"] for e in response.json()["errors"]]
