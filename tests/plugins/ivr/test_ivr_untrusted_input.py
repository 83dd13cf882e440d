"""The IVR API with values no field can take: simulator variables with unpaired surrogates
or non-finite numbers, a flow with NUL characters, a version number beyond any version
column. Each answers 4xx with a stable problem type, never 500 (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from ivr_helpers import flow

pytestmark = pytest.mark.usefixtures("tenant")

GREETING = flow(
    "hello",
    hello={"type": "say", "text": "Hello {{name}}.", "exits": {"next": "bye"}},
    bye={"type": "hangup", "message": "Bye."},
)
JSON = {"content-type": "application/json"}


@pytest.fixture
async def flow_url(client) -> str:
    created = await client.post("/api/v1/ivr/flows", json={"name": "Main", "draft": GREETING})
    assert created.status_code == 201, created.text
    url = f"/api/v1/ivr/flows/{created.json()['id']}"
    assert (await client.post(f"{url}/publish", json={"note": ""})).status_code == 201
    return url


@pytest.mark.parametrize(
    ("variables", "problem"),
    [
        (b'{"name": "\\udc00"}', "lone_surrogate"),
        (b'{"name": "a\\u0000"}', "nul_character"),
        (b'{"name": {"deep": [Infinity]}}', "non_finite_number"),
        (b'{"name": 1e999}', "non_finite_number"),
    ],
)
async def test_simulator_variables_no_field_takes_are_refused(client, flow_url, variables, problem):
    body = b'{"variables": ' + variables + b"}"
    response = await client.post(f"{flow_url}/simulate", content=body, headers=JSON)
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "/problems/validation-error"
    [error] = response.json()["errors"]
    assert error["type"] == problem
    assert error["loc"][:3] == ["body", "variables", "name"]


async def test_simulator_variables_that_can_be_kept_still_work(client, flow_url):
    response = await client.post(f"{flow_url}/simulate", json={"variables": {"name": "Zoë 😀"}})
    assert response.status_code == 200, response.text
    assert response.json()["prompts"][0] == "Hello Zoë 😀."


async def test_a_flow_with_nul_characters_is_refused(client):
    draft = flow("a", a={"type": "hangup", "message": "Bye\u0000"})
    response = await client.post("/api/v1/ivr/flows", json={"name": "N", "draft": draft})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"][-1] == "message"


@pytest.mark.parametrize("number", [2**31, 2**63, -(2**31) - 1])
async def test_a_version_number_beyond_any_column_is_a_client_error(client, flow_url, number):
    response = await client.get(f"{flow_url}/versions/{number}")
    assert response.status_code in (404, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"
