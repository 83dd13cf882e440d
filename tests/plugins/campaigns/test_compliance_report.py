"""A campaign's compliance report through HTTP (``GET /campaigns/{id}/compliance-report``):
every dial with the rules' decisions, every abandon with the seconds to its safe-harbour
message; JSON by default, CSV on ``Accept: text/csv`` or ``format=csv``, read a page at a
time (the page made tiny here so that the keyset paging is crossed).

The engine decides and dials an agentless campaign (a fixed clock, the calls plugin
replaced by a recorder); the agent modes' rows (abandons and their messages) are written
directly with the real check's decisions (see ``reports_helpers``)."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
from campaigns_helpers import BASE
from reports_helpers import (
    NOON_LA,
    Placer,
    agentless,
    change_attempt,
    decision,
    ok,
    progressive,
    run,
    seconds,
    write_attempts,
)

from plugins.campaigns import report
from plugins.campaigns.dialer import engine as engine_module


@pytest.fixture(autouse=True)
def no_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRALIKI_BACKGROUND_WORKERS", "false")


@pytest.fixture(autouse=True)
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two attempts a page: every report here is read over several pages."""
    monkeypatch.setattr(report, "PAGE", 2)


@pytest.fixture
def placer(monkeypatch: pytest.MonkeyPatch) -> Placer:
    fake = Placer()
    monkeypatch.setattr(engine_module, "place_call", fake)
    return fake


def rows_of(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


async def test_every_dial_with_every_rules_verdict(client, world, owner, platform, placer):
    listed = await ok(
        await client.post(
            "/api/v1/contacts",
            headers=world.headers,
            json={"name": "Dee", "phones": ["+14155551999"]},
        ),
        201,
    )
    await ok(
        await client.post(
            "/api/v1/contacts/dnc", headers=world.headers, json={"value": "+14155551999"}
        ),
        201,
    )
    campaign_id = await agentless(client, world, [*world.contact_ids, listed["id"]], lines=4)
    await run(platform, owner.tenant_id, NOON_LA)
    # a value another plugin wrote that a spreadsheet would run as a formula
    page = await ok(await client.get(f"{BASE}/{campaign_id}/attempts", headers=world.headers))
    first = next(a for a in page["items"] if a["number"] == "+14155551000")
    await change_attempt(platform, owner.tenant_id, first["id"], amd_action="=1+2")

    response = await client.get(f"{BASE}/{campaign_id}/compliance-report", headers=world.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["campaign_id"] == campaign_id
    assert (body["from"], body["to"]) == (None, None)
    assert body["abandons"]["count"] == 0
    attempts = body["attempts"]
    assert len(attempts) == 4  # over two pages
    assert [a["decided_at"] for a in attempts] == sorted(a["decided_at"] for a in attempts)
    blocked = next(a for a in attempts if not a["allowed"])
    assert (blocked["contact_id"], blocked["number"], blocked["rule"]) == (
        listed["id"],
        "+14155551999",
        "dnc-number",
    )
    assert blocked["decision"]["checks"]["callable"]["rule"] == "dnc-number"
    assert blocked["status"] == "blocked"
    placed = [a for a in attempts if a["allowed"]]
    assert {a["status"] for a in placed} == {"placed"}
    assert all(a["decision"]["checks"]["window"]["rule"] == "window.allowed" for a in placed)

    as_csv = await client.get(
        f"{BASE}/{campaign_id}/compliance-report",
        headers={**world.headers, "Accept": "text/csv"},
    )
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in as_csv.headers["content-disposition"]
    rows = rows_of(as_csv.text)
    assert list(rows[0]) == list(report.COLUMNS)
    assert [r["attempt_id"] for r in rows] == [a["attempt_id"] for a in attempts]
    dnc = next(r for r in rows if r["allowed"] == "false")
    assert (dnc["rule"], dnc["check_callable"], dnc["check_campaign"]) == (
        "dnc-number",
        "dnc-number",
        "allowed",
    )
    assert (dnc["check_window"], dnc["check_frequency"], dnc["check_schedule"]) == (
        "window.allowed",
        "frequency.allowed",
        "schedule.open",
    )
    # numbers start with "+": neutralised (kept text); so is the formula
    assert dnc["number"] == "'+14155551999"
    dialled = next(r for r in rows if r["attempt_id"] == first["id"])
    assert dialled["amd_action"] == "'=1+2"
    assert (dialled["allowed"], dialled["abandoned"], dialled["answered_at"]) == (
        "true",
        "false",
        "",
    )

    same = await client.get(
        f"{BASE}/{campaign_id}/compliance-report", headers=world.headers, params={"format": "csv"}
    )
    assert same.text == as_csv.text
    # an unknown contact stops the check before the time rules: their columns stay empty
    assert report.verdict({"checks": {"campaign": {"state": "paused"}}}, "window") == ""
    assert report.verdict({"checks": {"campaign": {"state": "paused"}}}, "campaign") == (
        "campaign.not_active"
    )


async def test_every_abandon_with_the_time_to_its_safe_harbour_message(
    client, world, owner, platform, as_role
):
    campaign_id = await progressive(client, world)
    ada, ben, _ = world.contact_ids
    day = NOON_LA - timedelta(days=1)
    early = await decision(client, world, campaign_id, ada, day)
    early_too = await decision(client, world, campaign_id, ben, day + timedelta(minutes=1))
    later = await decision(client, world, campaign_id, ben, day + timedelta(hours=2))
    later_too = await decision(client, world, campaign_id, ada, day + timedelta(hours=2, minutes=1))
    closed = await decision(client, world, campaign_id, ben, day + timedelta(hours=8))
    assert (early["allowed"], later["allowed"], closed["rule"]) == (
        True,
        True,
        "schedule.closed_hours",
    )

    def abandon(record, answer: float, after: float | None):
        at = datetime.fromisoformat(record["at"])
        return {
            "decision": record,
            "placed_at": at,
            "answered_at": at + seconds(answer),
            "answered_by": "human",
            "outcome": "human",
            "abandoned": True,
            "safe_harbour_at": at + seconds(answer + after) if after is not None else None,
            "ended_at": at + seconds(answer + 10),
        }

    ids = await write_attempts(
        platform,
        owner.tenant_id,
        campaign_id,
        [
            abandon(early, 8, 1.25),
            abandon(early_too, 9, 0.75),
            abandon(later, 7, 2.5),
            abandon(later_too, 6, None),  # no message recorded
            {"decision": closed},  # blocked by the campaign's hours
        ],
    )
    body = await ok(
        await client.get(f"{BASE}/{campaign_id}/compliance-report", headers=world.headers)
    )
    assert body["abandons"] == {
        "count": 4,
        "max_seconds_to_safe_harbour": 2.5,
        "average_seconds_to_safe_harbour": 1.5,
        "over_2_seconds": 1,
        "without_safe_harbour": 1,
    }
    assert [a["attempt_id"] for a in body["attempts"]] == ids
    assert [a["seconds_to_safe_harbour"] for a in body["attempts"]] == [1.25, 0.75, 2.5, None, None]
    assert body["attempts"][4]["rule"] == "schedule.closed_hours"
    assert body["attempts"][4]["decision"] == closed

    # from/to filter on the decision: the later two abandons and the blocked decision
    since = day + timedelta(hours=1)
    span = await ok(
        await client.get(
            f"{BASE}/{campaign_id}/compliance-report",
            headers=world.headers,
            params={"from": since.isoformat(), "to": (day + timedelta(days=1)).isoformat()},
        )
    )
    assert [a["attempt_id"] for a in span["attempts"]] == ids[2:]
    assert span["abandons"]["count"] == 2
    assert span["from"] == since.isoformat()
    as_csv = await client.get(
        f"{BASE}/{campaign_id}/compliance-report",
        headers=world.headers,
        params={"format": "csv", "from": since.isoformat()},
    )
    rows = rows_of(as_csv.text)
    assert [(r["abandoned"], r["seconds_to_safe_harbour"]) for r in rows] == [
        ("true", "2.5"),
        ("true", ""),
        ("false", ""),
    ]
    assert rows[2]["check_schedule"] == "schedule.closed_hours"

    reversed_ = await client.get(
        f"{BASE}/{campaign_id}/compliance-report",
        headers=world.headers,
        params={"from": since.isoformat(), "to": day.isoformat()},
    )
    assert reversed_.status_code == 422, reversed_.text
    assert reversed_.json()["errors"][0]["loc"] == ["query", "to"]

    supervisor = await as_role("supervisor")
    seen = await client.get(f"{BASE}/{campaign_id}/compliance-report", headers=supervisor)
    assert seen.status_code == 200, seen.text
    for role in ("agent", "integrator"):
        refused = await client.get(
            f"{BASE}/{campaign_id}/compliance-report", headers=await as_role(role)
        )
        assert refused.status_code == 403, refused.text


async def test_another_organizations_campaign_has_no_report(client, world, kraliki_make_owner):
    campaign_id = await progressive(client, world)
    other = await kraliki_make_owner("globex")
    for params in ({}, {"format": "csv"}):
        response = await client.get(
            f"{BASE}/{campaign_id}/compliance-report", headers=other.headers, params=params
        )
        assert response.status_code == 404, response.text
        assert response.json()["type"].endswith("/campaigns-campaign-not-found")
