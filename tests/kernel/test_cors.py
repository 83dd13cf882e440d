"""CORS: the origins of ``KRALIKI_CORS_ORIGINS`` (none by default) get answered preflights on
REST and SSE routes, credentials and the API's headers; every other origin gets no CORS
header at all."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kernel import Settings
from kernel.testing import app_client

FRONTEND = "https://app.example.com"
OTHER = "https://evil.example.net"
USERS = "/api/v1/users"
SSE = "/api/v1/realtime/sse"


@pytest.fixture
def kraliki_installed_plugins():
    return []


def preflight(method: str, headers: str, origin: str = FRONTEND) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


def cors_headers(response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


@pytest.fixture
async def client(kraliki_make_app):
    app = await kraliki_make_app(cors_origins=[FRONTEND, "http://localhost:5173"])
    async with app_client(app) as http:
        yield http


async def test_no_origin_is_allowed_by_default(kraliki_app):
    async with app_client(kraliki_app) as http:
        answered = await http.options(USERS, headers=preflight("POST", "authorization"))
        simple = await http.get(USERS, headers={"Origin": FRONTEND})
    assert answered.status_code == 405
    assert answered.headers["content-type"] == "application/problem+json"
    assert cors_headers(answered) == {}
    assert simple.status_code == 401
    assert cors_headers(simple) == {}


@pytest.mark.parametrize(
    ("path", "method", "headers"),
    [
        (USERS, "POST", "authorization, content-type, idempotency-key"),
        (USERS + "/00000000-0000-0000-0000-000000000000", "PATCH", "authorization, if-match"),
        (SSE, "GET", "authorization, last-event-id"),
    ],
)
async def test_a_preflight_from_an_allowed_origin_is_answered(client, path, method, headers):
    response = await client.options(path, headers=preflight(method, headers))
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == FRONTEND
    assert response.headers["access-control-allow-credentials"] == "true"
    assert method in response.headers["access-control-allow-methods"].split(", ")
    allowed = {h.lower() for h in response.headers["access-control-allow-headers"].split(", ")}
    assert {h.strip() for h in headers.split(",")} <= allowed
    assert int(response.headers["access-control-max-age"]) == 600
    assert "Origin" in response.headers["vary"]


async def test_answers_to_an_allowed_origin_carry_cors_headers_errors_too(client):
    response = await client.get(SSE, headers={"Origin": "http://localhost:5173"})
    assert response.status_code == 401  # the frontend can read the problem and its type
    assert response.json()["type"] == "/problems/unauthenticated"
    assert response.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert response.headers["access-control-allow-credentials"] == "true"
    exposed = set(response.headers["access-control-expose-headers"].split(", "))
    assert {"ETag", "Location", "Retry-After", "WWW-Authenticate"} <= exposed


async def test_another_origin_gets_no_cors_headers(client):
    refused = await client.options(USERS, headers=preflight("POST", "authorization", OTHER))
    simple = await client.get(USERS, headers={"Origin": OTHER})
    assert refused.status_code == 405
    assert cors_headers(refused) == {}
    assert simple.status_code == 401
    assert cors_headers(simple) == {}
    assert "Origin" in simple.headers["vary"]


async def test_a_preflight_for_a_header_the_api_does_not_take_is_a_problem(client):
    response = await client.options(USERS, headers=preflight("POST", "x-something-else"))
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/bad-request"
    assert "headers" in response.json()["detail"]


def test_origins_are_read_comma_separated_and_checked(monkeypatch):
    monkeypatch.setenv("KRALIKI_CORS_ORIGINS", f" {FRONTEND}, http://[::1]:8080 ,")
    assert Settings(_env_file=None).cors_origins == [FRONTEND, "http://[::1]:8080"]
    for wrong in ("*", "https://app.example.com/", "app.example.com", "https://a.test/path"):
        monkeypatch.setenv("KRALIKI_CORS_ORIGINS", wrong)
        with pytest.raises(ValidationError, match="is not an origin"):
            Settings(_env_file=None)
