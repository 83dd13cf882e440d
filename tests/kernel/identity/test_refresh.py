"""Refresh-token rotation, reuse detection and logout."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import update

from kernel import utcnow
from kernel._identity.models import AuthSession, User

from .helpers import (
    LOGOUT,
    ME,
    OPERATOR_AUDIT,
    OPERATOR_PASSWORD,
    REFRESH,
    SYSTEM_PLUGINS,
    audit_events,
    bearer,
    make_operator,
    make_user,
    problem,
    run,
    token_pair,
    unauthenticated,
)


async def refresh(client, token: str):
    return await client.post(REFRESH, json={"refresh_token": token})


async def me_status(client, pair) -> int:
    return (await client.get(ME, headers=bearer(pair["access_token"]))).status_code


async def test_refresh_rotates_the_pair(kraliki_client, kraliki_platform, acme):
    await make_user(kraliki_platform, acme, "ada@example.com")
    first = await token_pair(kraliki_client, "ada@example.com")
    response = await refresh(kraliki_client, first["refresh_token"])
    assert response.status_code == 200, response.text
    second = response.json()
    assert set(second) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert second["token_type"] == "Bearer"
    assert second["refresh_token"] != first["refresh_token"]
    assert second["refresh_token"].startswith(f"krt_{acme.hex}_")
    assert await me_status(kraliki_client, second) == 200
    # The new refresh token rotates in turn.
    third = await refresh(kraliki_client, second["refresh_token"])
    assert third.status_code == 200
    assert third.json()["refresh_token"] not in {first["refresh_token"], second["refresh_token"]}
    # A used token stops working.
    problem(await refresh(kraliki_client, first["refresh_token"]), 401, "unauthenticated")


async def test_reuse_revokes_the_whole_session(kraliki_client, kraliki_platform, acme):
    await make_user(kraliki_platform, acme, "admin@example.com", roles=["admin"])
    other_session = await token_pair(kraliki_client, "admin@example.com")
    first = await token_pair(kraliki_client, "admin@example.com")
    second = (await refresh(kraliki_client, first["refresh_token"])).json()

    reused = await refresh(kraliki_client, first["refresh_token"])  # a thief replays it
    problem(reused, 401, "unauthenticated")

    problem(await refresh(kraliki_client, second["refresh_token"]), 401, "unauthenticated")
    for pair in (first, second):
        unauthenticated(await kraliki_client.get(ME, headers=bearer(pair["access_token"])))
    # Another login of the same user is a session of its own and goes on working.
    assert await me_status(kraliki_client, other_session) == 200
    events = await audit_events(
        kraliki_client, bearer(other_session["access_token"]), action="auth.refresh_token_reused"
    )
    (event,) = events
    assert event["outcome"] == "failure"
    assert event["target_type"] == "session"
    assert event["actor_kind"] == "user"
    assert first["refresh_token"] not in str(event)


async def test_of_two_concurrent_refreshes_exactly_one_wins(kraliki_client, kraliki_platform, acme):
    await make_user(kraliki_platform, acme, "ada@example.com")
    pair = await token_pair(kraliki_client, "ada@example.com")
    responses = await asyncio.gather(
        refresh(kraliki_client, pair["refresh_token"]),
        refresh(kraliki_client, pair["refresh_token"]),
    )
    assert sorted(r.status_code for r in responses) == [200, 401]


async def test_reusing_the_newest_token_revokes_the_session_too(
    kraliki_client, kraliki_platform, acme
):
    await make_user(kraliki_platform, acme, "ada@example.com")
    first = await token_pair(kraliki_client, "ada@example.com")
    second = (await refresh(kraliki_client, first["refresh_token"])).json()
    third = (await refresh(kraliki_client, second["refresh_token"])).json()
    problem(await refresh(kraliki_client, second["refresh_token"]), 401, "unauthenticated")
    problem(await refresh(kraliki_client, third["refresh_token"]), 401, "unauthenticated")
    assert await me_status(kraliki_client, third) == 401


async def test_logout_ends_the_session_at_once(kraliki_client, kraliki_platform, acme):
    await make_user(kraliki_platform, acme, "admin@example.com", roles=["admin"])
    pair = await token_pair(kraliki_client, "admin@example.com")
    laptop = await token_pair(kraliki_client, "admin@example.com")
    assert await me_status(kraliki_client, pair) == 200
    response = await kraliki_client.post(LOGOUT, json={"refresh_token": pair["refresh_token"]})
    assert response.status_code == 204
    assert response.content == b""
    unauthenticated(await kraliki_client.get(ME, headers=bearer(pair["access_token"])))
    problem(await refresh(kraliki_client, pair["refresh_token"]), 401, "unauthenticated")
    again = await kraliki_client.post(LOGOUT, json={"refresh_token": pair["refresh_token"]})
    assert again.status_code == 204
    assert await me_status(kraliki_client, laptop) == 200  # the user's other session goes on

    events = await audit_events(
        kraliki_client, bearer(laptop["access_token"]), action="auth.logout"
    )
    assert len(events) == 1, "the second logout changed nothing and records nothing"
    assert events[0]["outcome"] == "success"
    assert events[0]["target_type"] == "session"


async def test_logout_with_an_unknown_token_is_quietly_accepted(kraliki_client, acme):
    unknown = f"krt_{acme.hex}_" + "x" * 43
    response = await kraliki_client.post(LOGOUT, json={"refresh_token": unknown})
    assert response.status_code == 204
    garbage = await kraliki_client.post(LOGOUT, json={"refresh_token": "garbage"})
    problem(garbage, 401, "unauthenticated")


async def test_refresh_refuses_what_is_not_a_live_refresh_token(
    kraliki_client, kraliki_platform, acme
):
    await make_user(kraliki_platform, acme, "ada@example.com")
    pair = await token_pair(kraliki_client, "ada@example.com")
    for what, token in {
        "garbage": "garbage",
        "access token": pair["access_token"][:200],
        "api key shape": f"kvk_{acme.hex}_" + "x" * 43,
        "unknown refresh token": f"krt_{acme.hex}_" + "x" * 43,
        "platform scope, unknown": "krt_platform_" + "x" * 43,
        "bad tenant part": "krt_nothex_" + "x" * 43,
    }.items():
        response = await refresh(kraliki_client, token)
        assert response.status_code == 401, what
        problem(response, 401, "unauthenticated")
    missing = await kraliki_client.post(REFRESH, json={})
    problem(missing, 422, "validation-error")


async def test_expired_session_cannot_refresh_and_its_tokens_stop(
    kraliki_client, kraliki_platform, acme
):
    await make_user(kraliki_platform, acme, "ada@example.com")
    pair = await token_pair(kraliki_client, "ada@example.com")
    await run(
        kraliki_platform,
        update(AuthSession).values(expires_at=utcnow() - timedelta(seconds=1)),
        acme,
    )
    unauthenticated(await kraliki_client.get(ME, headers=bearer(pair["access_token"])))
    problem(await refresh(kraliki_client, pair["refresh_token"]), 401, "unauthenticated")


async def test_an_inactive_user_cannot_refresh(kraliki_client, kraliki_platform, acme):
    """Even with a session that is still open (flag flipped directly, sessions untouched)."""
    user_id = await make_user(kraliki_platform, acme, "ada@example.com")
    pair = await token_pair(kraliki_client, "ada@example.com")
    await run(
        kraliki_platform, update(User).where(User.id == user_id).values(is_active=False), acme
    )
    problem(await refresh(kraliki_client, pair["refresh_token"]), 401, "unauthenticated")
    unauthenticated(await kraliki_client.get(ME, headers=bearer(pair["access_token"])))


async def test_operator_refresh_rotates_detects_reuse_and_logs_out(
    kraliki_client, kraliki_platform
):
    await make_operator(kraliki_platform, "op@example.com")
    first = await token_pair(kraliki_client, "op@example.com", OPERATOR_PASSWORD, tenant=None)
    response = await refresh(kraliki_client, first["refresh_token"])
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["refresh_token"].startswith("krt_platform_")
    assert second["refresh_token"] != first["refresh_token"]
    headers = bearer(second["access_token"])
    assert (await kraliki_client.get(SYSTEM_PLUGINS, headers=headers)).status_code == 200

    problem(await refresh(kraliki_client, first["refresh_token"]), 401, "unauthenticated")
    unauthenticated(await kraliki_client.get(SYSTEM_PLUGINS, headers=headers))

    other = await token_pair(kraliki_client, "op@example.com", OPERATOR_PASSWORD, tenant=None)
    operator_events = await audit_events(
        kraliki_client, bearer(other["access_token"]), OPERATOR_AUDIT
    )
    assert "auth.refresh_token_reused" in [e["action"] for e in operator_events]

    # Logging out ends an operator session at once too.
    out = await kraliki_client.post(LOGOUT, json={"refresh_token": other["refresh_token"]})
    assert out.status_code == 204
    unauthenticated(await kraliki_client.get(SYSTEM_PLUGINS, headers=bearer(other["access_token"])))
