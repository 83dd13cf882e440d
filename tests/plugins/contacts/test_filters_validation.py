"""A filter that names unknown fields, or asks a field something its type cannot answer, is
refused with a problem saying which and why; nothing about it is run or saved."""

from __future__ import annotations

from typing import Any

import pytest
from segments_helpers import SEGMENTS, World, build_world


@pytest.fixture
async def world(kraliki_platform, kraliki_make_owner) -> World:
    return await build_world(kraliki_platform, kraliki_make_owner)


async def _refused(client: Any, world: World, criteria: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(
        f"{SEGMENTS}/preview", headers=world.a.headers, json={"filter": criteria}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


async def test_unknown_fields_are_listed(kraliki_client, world):
    body = await _refused(
        kraliki_client,
        world,
        {
            "fields": [
                {"field": "shoe_size", "op": "gt", "value": 40},
                {"field": "plan", "op": "eq", "value": "gold"},
                {"field": "colour", "op": "empty"},
            ]
        },
    )
    assert body["type"] == "/problems/contacts-filter-unknown-fields"
    assert body["fields"] == ["colour", "shoe_size"]


async def test_another_tenants_fields_are_unknown(kraliki_client, world):
    response = await kraliki_client.post(
        f"{SEGMENTS}/preview",
        headers=world.b.headers,
        json={"filter": {"fields": [{"field": "plan", "op": "eq", "value": "gold"}]}},
    )
    assert response.status_code == 422
    assert response.json()["fields"] == ["plan"]


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"field": "score", "op": "contains", "value": "1"}, "number field takes only"),
        ({"field": "plan", "op": "gt", "value": "gold"}, "choice field takes only"),
        ({"field": "note", "op": "lt", "value": "a"}, "text field takes only"),
        ({"field": "score", "op": "eq", "value": "ten"}, "compares with numbers"),
        ({"field": "renew", "op": "gt", "value": 20260101}, "compares with text"),
        ({"field": "renew", "op": "gt", "value": "01/02/2026"}, "YYYY-MM-DD"),
        ({"field": "renew", "op": "in", "value": ["2026-01-01", "2026-1-2"]}, "YYYY-MM-DD"),
        ({"field": "plan", "op": "eq", "value": "platinum"}, "platinum"),
        ({"field": "note", "op": "eq", "value": 3}, "compares with text"),
    ],
)
async def test_conditions_that_do_not_fit_their_field(kraliki_client, world, condition, message):
    body = await _refused(kraliki_client, world, {"fields": [condition]})
    assert body["type"] == "/problems/contacts-filter-invalid"
    [error] = body["errors"]
    assert error["field"] == condition["field"]
    assert error["op"] == condition["op"]
    assert message in error["message"]


@pytest.mark.parametrize(
    "criteria",
    [
        {"fields": [{"field": "plan", "op": "in", "value": "gold"}]},
        {"fields": [{"field": "plan", "op": "eq"}]},
        {"fields": [{"field": "plan", "op": "empty", "value": "x"}]},
        {"fields": [{"field": "plan", "op": "eq", "value": ["gold"]}]},
        {"fields": [{"field": "plan", "op": "eq", "value": True}]},
        {"fields": [{"field": "plan", "op": "in", "value": ["gold", 1]}]},
        {"fields": [{"field": "plan", "op": "like", "value": "g"}]},
        {"fields": [{"field": 'pl"an', "op": "eq", "value": "g"}]},
        {"country": ["USA"]},
        {"region": ["US-CA-X"]},
        {"not_called_in_days": 0},
        {"call_count_gte": -1},
        {"call_count_lte": 2**31},
        {"created_after": "9999-12-31T23:59:59-05:00"},
        {"colour": "red"},
        {"tags_any": [""]},
    ],
)
async def test_malformed_filters_are_validation_errors(kraliki_client, world, criteria):
    body = await _refused(kraliki_client, world, criteria)
    assert body["type"] == "/problems/validation-error"


async def test_a_refused_filter_is_not_saved(kraliki_client, world):
    bad = {"fields": [{"field": "shoe_size", "op": "eq", "value": 1}]}
    created = await kraliki_client.post(
        SEGMENTS, headers=world.a.headers, json={"name": "Bad", "filter": bad}
    )
    assert created.status_code == 422
    assert created.json()["type"] == "/problems/contacts-filter-unknown-fields"
    listed = await kraliki_client.get(SEGMENTS, headers=world.a.headers)
    assert listed.json()["items"] == []
