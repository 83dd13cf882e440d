"""Each filter criterion selects exactly the contacts it should, through the preview route
(SQLite and PostgreSQL alike); merged and erased contacts never match."""

from __future__ import annotations

from typing import Any

import pytest
from segments_helpers import World, at, build_world, days_ago, preview

Case = tuple[dict[str, Any], set[str]]

ALL = {"ann", "bob", "cid", "dee"}

TAGS: list[Case] = [
    ({"tags_any": ["vip"]}, {"ann", "dee"}),
    ({"tags_any": ["vip", "east"]}, {"ann", "bob", "dee"}),
    ({"tags_any": ["nobody-has-it"]}, set()),
    ({"tags_all": ["vip", "east"]}, {"ann"}),
    ({"tags_all": ["east"]}, {"ann", "bob"}),
    ({"tags_none": ["vip"]}, {"bob", "cid"}),
    ({"tags_none": ["vip", "east"]}, {"cid"}),
    ({"tags_any": ["east"], "tags_none": ["vip"]}, {"bob"}),
    ({"tags_any": [" VIP "]}, {"ann", "dee"}),
    ({"tags_all": ["East", "east"]}, {"ann", "bob"}),
]

TEXT: list[Case] = [
    ({"q": "ann"}, {"ann"}),
    ({"q": "ACME"}, {"ann"}),
    ({"q": "  lee   acme "}, {"ann"}),
    ({"q": "acme stone"}, set()),
    ({"q": "ann@acme.example"}, {"ann"}),
    ({"q": "4155550101"}, {"ann"}),
    ({"q": "+1 (415) 555-0101"}, {"ann"}),
    ({"q": "555"}, {"ann", "dee"}),
    ({"q": "o"}, {"bob", "cid"}),
    ({"q": "zzz"}, set()),
    ({"q": "%"}, set()),
    ({"q": "_"}, set()),
    ({"q": "   "}, ALL),
]

FIELDS: list[Case] = [
    ({"fields": [{"field": "plan", "op": "eq", "value": "gold"}]}, {"ann", "dee"}),
    ({"fields": [{"field": "plan", "op": "ne", "value": "gold"}]}, {"bob", "cid"}),
    ({"fields": [{"field": "plan", "op": "in", "value": ["silver", "bronze"]}]}, {"bob"}),
    ({"fields": [{"field": "score", "op": "eq", "value": 10}]}, {"ann"}),
    ({"fields": [{"field": "score", "op": "gt", "value": 5}]}, {"ann", "dee"}),
    ({"fields": [{"field": "score", "op": "gte", "value": 5}]}, {"ann", "bob", "dee"}),
    ({"fields": [{"field": "score", "op": "lt", "value": 7.5}]}, {"bob"}),
    ({"fields": [{"field": "score", "op": "lte", "value": 7.5}]}, {"bob", "dee"}),
    ({"fields": [{"field": "score", "op": "in", "value": [5, 10]}]}, {"ann", "bob"}),
    ({"fields": [{"field": "score", "op": "ne", "value": 5}]}, {"ann", "cid", "dee"}),
    ({"fields": [{"field": "renew", "op": "lt", "value": "2026-02-01"}]}, {"dee"}),
    ({"fields": [{"field": "renew", "op": "gte", "value": "2026-02-01"}]}, {"ann"}),
    ({"fields": [{"field": "renew", "op": "eq", "value": "2026-03-01"}]}, {"ann"}),
    ({"fields": [{"field": "renew", "op": "empty"}]}, {"bob", "cid"}),
    ({"fields": [{"field": "renew", "op": "not_empty"}]}, {"ann", "dee"}),
    ({"fields": [{"field": "note", "op": "contains", "value": "100% COTTON"}]}, {"cid"}),
    ({"fields": [{"field": "note", "op": "contains", "value": "100_"}]}, set()),
    ({"fields": [{"field": "note", "op": "eq", "value": "likes 100% cotton"}]}, {"cid"}),
    # Both sides fold case in the database alike (SQLite folds ASCII letters only).
    ({"fields": [{"field": "note", "op": "eq", "value": "ŽLUŤOUČKÝ Kůň"}]}, {"dee"}),
    ({"fields": [{"field": "note", "op": "contains", "value": "kůň"}]}, {"dee"}),
    ({"fields": [{"field": "note", "op": "contains", "value": "/"}]}, set()),
    (
        {
            "fields": [
                {"field": "plan", "op": "eq", "value": "gold"},
                {"field": "score", "op": "gt", "value": 8},
            ]
        },
        {"ann"},
    ),
]

PLACES_AND_DATES: list[Case] = [
    ({"country": ["us"]}, {"ann", "bob"}),
    ({"country": ["US", "FR"]}, {"ann", "bob", "cid"}),
    ({"country": ["DE"]}, set()),
    ({"region": ["US-CA"]}, {"ann"}),
    ({"region": ["on"]}, {"dee"}),
    ({"region": ["US-ON"]}, set()),
    ({"region": ["CA-ON", "US-NY"]}, {"bob", "dee"}),
    ({"created_after": "2026-02-01T00:00:00Z"}, {"bob", "cid", "dee"}),
    ({"created_before": "2026-02-01T00:00:00Z"}, {"ann"}),
    (
        {"created_after": "2026-02-01T00:00:00Z", "created_before": "2026-04-01T00:00:00Z"},
        {"bob", "cid"},
    ),
    ({"created_after": "2026-01-31T19:00:00-05:00"}, {"bob", "cid", "dee"}),
    ({"updated_after": "2026-03-10T00:00:00"}, {"cid", "dee"}),
    ({"updated_before": "2026-01-11T00:00:00Z"}, {"ann"}),
]

HISTORY: list[Case] = [
    ({"last_call_after": days_ago(10).isoformat()}, {"bob"}),
    ({"last_call_before": days_ago(30).isoformat()}, {"ann", "dee"}),
    ({"not_called_in_days": 30}, {"ann", "cid", "dee"}),
    ({"not_called_in_days": 365}, {"cid"}),
    ({"never_called": True}, {"cid"}),
    ({"never_called": False}, {"ann", "bob", "dee"}),
    ({"last_disposition_in": ["callback"]}, {"ann"}),
    ({"last_disposition_in": ["callback", "sale"]}, {"ann", "bob"}),
    ({"last_call_status_in": ["no-answer"]}, {"dee"}),
    ({"call_count_gte": 2}, {"ann", "dee"}),
    ({"call_count_lte": 1}, {"bob", "cid"}),
    ({"call_count_gte": 1, "call_count_lte": 2}, {"bob", "dee"}),
    ({"call_count_gte": 3, "call_count_lte": 1}, set()),
]

OWNERS_AND_NUMBERS: list[Case] = [
    ({"has_number": True}, {"ann", "bob", "dee"}),
    ({"has_number": False}, {"cid"}),
    ({"number_region_in": ["GB"]}, {"bob"}),
    ({"number_region_in": ["us"]}, {"ann", "dee"}),
    ({"number_region_in": ["JP"]}, set()),
    ({}, ALL),
    (
        {
            "tags_any": ["vip"],
            "never_called": False,
            "number_region_in": ["US"],
            "fields": [{"field": "score", "op": "gt", "value": 8}],
            "region": ["US-CA"],
        },
        {"ann"},
    ),
    ({"tags_any": ["vip"], "country": ["FR"]}, set()),
]


async def check(client: Any, world: World, cases: list[Case]) -> None:
    wrong = []
    for criteria, expected in cases:
        got = world.names(await preview(client, world.a, **criteria))
        if got != expected:
            wrong.append((criteria, sorted(expected), sorted(got)))
    assert wrong == []


@pytest.fixture
async def world(kraliki_platform, kraliki_make_owner) -> World:
    return await build_world(kraliki_platform, kraliki_make_owner)


@pytest.mark.parametrize(
    "cases",
    [TAGS, TEXT, FIELDS, PLACES_AND_DATES, HISTORY, OWNERS_AND_NUMBERS],
    ids=["tags", "text", "fields", "places-dates", "history", "numbers"],
)
async def test_each_criterion_selects_its_contacts(kraliki_client, world, cases):
    await check(kraliki_client, world, cases)


async def test_owner_criterion(kraliki_client, world):
    cases: list[Case] = [
        ({"owner_id": str(world.owner_id)}, {"ann"}),
        ({"owner_id": "00000000-0000-4000-8000-000000000000"}, set()),
    ]
    await check(kraliki_client, world, cases)


async def test_merged_and_erased_contacts_never_match(kraliki_client, world):
    for criteria in ({}, {"tags_any": ["vip"]}, {"q": "mia"}, {"q": "eve"}, {"has_number": True}):
        got = world.names(await preview(kraliki_client, world.a, **criteria))
        assert not got & {"mia", "eve"}, criteria


async def test_another_tenants_contacts_never_match(kraliki_client, world):
    got = await preview(kraliki_client, world.a, q="ann", tags_all=["vip", "east"])
    assert world.names(got) == {"ann"}
    got_b = await preview(kraliki_client, world.b, tags_any=["vip"])
    assert world.names(got_b) == {"bea"}


def test_naive_times_are_read_as_utc():
    from plugins.contacts.filters import ContactFilter

    f = ContactFilter.model_validate({"created_after": "2026-02-01T00:00:00"})
    assert f.created_after == at("2026-02-01")
    assert f.to_json() == {"created_after": "2026-02-01T00:00:00Z"}
