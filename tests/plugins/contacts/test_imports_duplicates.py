"""What a row matching an existing contact does (skip, update, create), what matches
(phone, e-mail, external id), rows repeating within the file, and dry runs."""

from __future__ import annotations

import imports_helpers
import pytest
from imports_helpers import IMPORTS, contacts, csv_bytes, errors, import_file, upload

kraliki_app, platform, owner, import_settings = imports_helpers.FIXTURES

FIRST = csv_bytes(
    "Name,Phone,Email,CRM id,Tags",
    "Ana,2015550101,ana@example.com,A-1,vip",
    "Bob,2015550102,bob@example.com,A-2,",
)
SECOND = csv_bytes(
    "Name,Phone,Email,CRM id,Tags",
    "Ana Novak,+1 201 555 0101,,A-1,lead",  # Ana again (same number and id)
    "Bobby,2015550199,bob@example.com,A-2,",  # Bob again by e-mail and id, new number
    "Cid,2015550103,cid@example.com,A-3,",  # new
    "Cid twin,2015550103,,A-3,",  # the same as the row before, within the file
)


async def _first(platform, client, owner) -> None:
    state = await import_file(platform, client, owner.headers, FIRST)
    assert state["created"] == 2, state


async def test_skip_by_phone(kraliki_client, owner, platform):
    await _first(platform, kraliki_client, owner)
    state = await import_file(
        platform, kraliki_client, owner.headers, SECOND, duplicates="skip", match_on="phone"
    )
    assert (state["created"], state["updated"], state["skipped"]) == (2, 0, 2), state
    names = sorted(c["name"] for c in await contacts(platform, owner.tenant_id))
    assert names == ["Ana", "Bob", "Bobby", "Cid"]


async def test_update_by_external_id_is_the_default_when_mapped(kraliki_client, owner, platform):
    await _first(platform, kraliki_client, owner)
    state = await import_file(platform, kraliki_client, owner.headers, SECOND, duplicates="update")
    assert state["match_on"] == "external_id"
    assert (state["created"], state["updated"], state["skipped"]) == (1, 3, 0), state
    people = {c["external_id"]: c for c in await contacts(platform, owner.tenant_id)}
    assert len(people) == 3
    ana = people["A-1"]
    assert ana["name"] == "Ana Novak"
    assert ana["emails"] == ["ana@example.com"]  # an empty cell leaves the value
    assert ana["tags"] == ["vip", "lead"]  # tags are added
    assert ana["tag_rows"] == ["lead", "vip"]
    assert ana["version"] == 2
    assert "ana novak" in ana["search_text"]
    bob = people["A-2"]
    assert (bob["name"], bob["phones"]) == ("Bobby", ["+12015550199"])
    assert "2015550199" in bob["search_text"]
    cid = people["A-3"]  # the twin row updated the contact the row before created
    assert (cid["name"], cid["phones"], cid["emails"]) == (
        "Cid twin",
        ["+12015550103"],
        ["cid@example.com"],
    )


async def test_update_by_email(kraliki_client, owner, platform):
    await _first(platform, kraliki_client, owner)
    state = await import_file(
        platform, kraliki_client, owner.headers, SECOND, duplicates="update", match_on="email"
    )
    # Ana's row has no e-mail: a new contact; Bob by e-mail; Cid new, its twin has no e-mail.
    assert (state["created"], state["updated"], state["skipped"]) == (3, 1, 0), state
    assert len(await contacts(platform, owner.tenant_id)) == 5


async def test_create_makes_duplicates_on_purpose(kraliki_client, owner, platform):
    await _first(platform, kraliki_client, owner)
    state = await import_file(platform, kraliki_client, owner.headers, SECOND, duplicates="create")
    assert (state["created"], state["updated"], state["skipped"]) == (4, 0, 0), state
    assert len(await contacts(platform, owner.tenant_id)) == 6


async def test_an_unchanged_row_counts_as_skipped(kraliki_client, owner, platform):
    await _first(platform, kraliki_client, owner)
    state = await import_file(platform, kraliki_client, owner.headers, FIRST, duplicates="update")
    assert (state["created"], state["updated"], state["skipped"]) == (0, 0, 2), state
    assert {c["version"] for c in await contacts(platform, owner.tenant_id)} == {1}


@pytest.mark.parametrize("import_settings", [{"import_batch_rows": 1}])
async def test_within_the_file_across_batches(kraliki_client, owner, platform):
    """A row repeating an earlier batch's row finds the contact that batch created."""
    state = await import_file(platform, kraliki_client, owner.headers, SECOND, match_on="phone")
    assert (state["created"], state["skipped"]) == (3, 1), state


@pytest.mark.parametrize("import_settings", [{"import_batch_rows": 2}])
async def test_a_dry_run_writes_nothing_then_runs_for_real(kraliki_client, owner, platform):
    await _first(platform, kraliki_client, owner)
    content = SECOND + b"Bad,12,not-an-email,A-4,\n"
    uploaded = await upload(kraliki_client, owner.headers, content)
    import_id = uploaded.json()["id"]
    body = {"duplicates": "update", "match_on": "phone", "dry_run": True}
    started = await kraliki_client.post(
        f"{IMPORTS}/{import_id}/start", headers=owner.headers, json=body
    )
    assert started.status_code == 202, started.text
    state = await imports_helpers.drive(platform, kraliki_client, owner.headers, import_id)
    # Cid's twin updates the contact Cid's row creates (in the same batch of two).
    assert (state["created"], state["updated"], state["skipped"], state["failed"]) == (2, 2, 0, 1)
    assert state["dry_run"] is True
    assert state["landed"].startswith("Dry run of all 5 rows, nothing written")
    assert sorted(c["name"] for c in await contacts(platform, owner.tenant_id)) == ["Ana", "Bob"]
    assert [(r, c) for r, c, _ in await errors(kraliki_client, owner.headers, import_id)] == [
        (6, "Email"),
        (6, "Phone"),
    ]
    body["dry_run"] = False
    again = await kraliki_client.post(
        f"{IMPORTS}/{import_id}/start", headers=owner.headers, json=body
    )
    assert again.status_code == 202, again.text
    state = await imports_helpers.drive(platform, kraliki_client, owner.headers, import_id)
    assert (state["created"], state["updated"], state["skipped"], state["failed"]) == (2, 2, 0, 1)
    assert len(await errors(kraliki_client, owner.headers, import_id)) == 2  # not twice
    assert len(await contacts(platform, owner.tenant_id)) == 4
    once_more = await kraliki_client.post(
        f"{IMPORTS}/{import_id}/start", headers=owner.headers, json={}
    )
    assert once_more.status_code == 409
    assert once_more.json()["type"] == "/problems/contacts-import-state"


async def test_first_and_last_name_columns_join(kraliki_client, owner, platform):
    content = csv_bytes("First name,Last name,Mobile", "Ana,Novak,2015550101", ",Solo,2015550102")
    state = await import_file(
        platform,
        kraliki_client,
        owner.headers,
        content,
        mapping={"First name": "name", "Last name": "name", "Mobile": "phones:mobile"},
    )
    assert state["created"] == 2, state
    people = sorted(
        (c["name"], c["phone_types"]) for c in await contacts(platform, owner.tenant_id)
    )
    assert people == [("Ana Novak", ["mobile"]), ("Solo", ["mobile"])]
