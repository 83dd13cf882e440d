"""Self-service sign-up (POST /api/v1/auth/register), through HTTP as a client would."""

from __future__ import annotations

import asyncio

import pytest

from kernel.testing import app_client, operator_audit_events

REGISTER = "/api/v1/auth/register"


def _body(slug: str = "acme", **changes: str) -> dict[str, str]:
    body = {
        "organization": "Acme Inc.",
        "slug": slug,
        "email": f"Owner@{slug}.Example.com",
        "password": "a long enough password",
        "display_name": "Olga Owner",
    }
    body.update(changes)
    return body


@pytest.fixture
async def signup_client(kraliki_make_app, monkeypatch):
    monkeypatch.setenv("KRALIKI_SIGNUP_ENABLED", "true")
    monkeypatch.setenv("KRALIKI_SIGNUP_MAX_PER_ADDRESS", "4")
    app = await kraliki_make_app()
    async with app_client(app) as client:
        yield client


async def test_sign_up_is_off_by_default(kraliki_client, kraliki_platform):
    response = await kraliki_client.post(REGISTER, json=_body())
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == "/problems/signup-disabled"
    login = await kraliki_client.post(
        "/api/v1/auth/login",
        json={"tenant": "acme", "email": "owner@acme.example.com", "password": "x" * 12},
    )
    assert login.status_code == 401  # nothing was created


async def test_sign_up_creates_the_organization_and_logs_the_owner_in(signup_client):
    response = await signup_client.post(REGISTER, json=_body())
    assert response.status_code == 201, response.text
    pair = response.json()
    assert pair["token_type"] == "Bearer"
    assert pair["expires_in"] > 0
    me = await signup_client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"}
    )
    assert me.status_code == 200, me.text
    assert me.json()["tenant"]["slug"] == "acme"
    assert me.json()["tenant"]["name"] == "Acme Inc."
    assert me.json()["roles"] == ["owner"]
    assert me.json()["label"] == "owner@acme.example.com"  # normalized
    # the refresh token works like a login's, and the owner can log in again
    refreshed = await signup_client.post(
        "/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    login = await signup_client.post(
        "/api/v1/auth/login",
        json={
            "tenant": "acme",
            "email": "owner@acme.example.com",
            "password": "a long enough password",
        },
    )
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    settings = await signup_client.get("/api/v1/tenant", headers=headers)
    assert settings.status_code == 200, settings.text  # the tenant's settings exist
    log = await signup_client.get("/api/v1/audit", headers=headers)
    assert "tenant.signed_up" in [event["action"] for event in log.json()["items"]]


async def test_the_operator_log_records_the_sign_up(signup_client, kraliki_platform):
    response = await signup_client.post(REGISTER, json=_body())
    assert response.status_code == 201
    [event] = await operator_audit_events(kraliki_platform, "tenant.created")
    assert event.actor_id == "signup"
    assert event.details["slug"] == "acme"
    assert event.details["owner_email"] == "owner@acme.example.com"


async def test_a_taken_slug_is_a_conflict_and_creates_nothing(signup_client):
    assert (await signup_client.post(REGISTER, json=_body())).status_code == 201
    again = await signup_client.post(REGISTER, json=_body(email="other@example.com"))
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/slug-taken"
    login = await signup_client.post(
        "/api/v1/auth/login",
        json={"tenant": "acme", "email": "other@example.com", "password": "a long enough password"},
    )
    assert login.status_code == 401


@pytest.mark.parametrize(
    "changes",
    [
        {"slug": "Not A Slug"},
        {"slug": "a"},
        {"slug": "-acme"},
        {"email": "not an e-mail"},
        {"password": "too short"},
        {"organization": ""},
    ],
)
async def test_invalid_input_is_refused(signup_client, changes):
    response = await signup_client.post(REGISTER, json=_body(**changes))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    me = await signup_client.post(
        "/api/v1/auth/login",
        json={
            "tenant": "acme",
            "email": "owner@acme.example.com",
            "password": "a long enough password",
        },
    )
    assert me.status_code == 401


async def test_sign_ups_are_throttled_per_address(signup_client):
    for _ in range(4):  # KRALIKI_SIGNUP_MAX_PER_ADDRESS, successful or not
        response = await signup_client.post(REGISTER, json=_body("taken"))
        assert response.status_code in (201, 409), response.text
    throttled = await signup_client.post(REGISTER, json=_body("fresh"))
    assert throttled.status_code == 429
    assert throttled.json()["type"] == "/problems/rate-limited"
    assert 1 <= int(throttled.headers["Retry-After"]) <= 3600


async def test_concurrent_sign_ups_for_one_slug_create_one_tenant(signup_client):
    first, second = await asyncio.gather(
        signup_client.post(REGISTER, json=_body("race", email="one@example.com")),
        signup_client.post(REGISTER, json=_body("race", email="two@example.com")),
    )
    assert sorted([first.status_code, second.status_code]) == [201, 409], (
        first.text,
        second.text,
    )
    winner = "one@example.com" if first.status_code == 201 else "two@example.com"
    loser = "two@example.com" if winner == "one@example.com" else "one@example.com"
    for email, expected in ((winner, 200), (loser, 401)):
        login = await signup_client.post(
            "/api/v1/auth/login",
            json={"tenant": "race", "email": email, "password": "a long enough password"},
        )
        assert login.status_code == expected, login.text
