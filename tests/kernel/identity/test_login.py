"""Logging in (tenant users and operators), access tokens, ``/auth/me`` and login auditing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
from pydantic import SecretStr
from sqlalchemy import update

from kernel import tenant_scope
from kernel._identity.models import User
from kernel._operators import PlatformOperator, bootstrap_operator

from .helpers import (
    AUDIT,
    LOGIN,
    ME,
    OPERATOR_AUDIT,
    OPERATOR_PASSWORD,
    PASSWORD,
    SYSTEM_PLUGINS,
    USERS,
    audit_events,
    bearer,
    claims_of,
    make_operator,
    make_tenant,
    make_user,
    problem,
    run,
    signing_key,
    token_pair,
    unauthenticated,
)


async def test_login_returns_a_bearer_token_pair(kraliki_client, kraliki_platform, acme):
    user_id = await make_user(kraliki_platform, acme, "ada@example.com")
    before = datetime.now(UTC) - timedelta(seconds=1)
    response = await kraliki_client.post(
        LOGIN, json={"tenant": "acme", "email": "ada@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == kraliki_platform.settings.access_token_ttl_seconds
    assert body["refresh_token"].startswith(f"krt_{acme.hex}_")
    claims = claims_of(body["access_token"])
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    assert (claims["sub"], claims["tid"], claims["knd"]) == (str(user_id), str(acme), "user")
    me = await kraliki_client.get(ME, headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json()["label"] == "ada@example.com"
    with tenant_scope(acme):
        async with kraliki_platform.database.session() as session:
            user = await session.get(User, (acme, user_id))
            assert user is not None
            assert user.last_login_at is not None
            assert user.last_login_at >= before


async def test_login_ignores_case_and_spaces_in_email_and_slug(
    kraliki_client, kraliki_platform, acme
):
    await make_user(kraliki_platform, acme, "ada@example.com")
    await token_pair(kraliki_client, "  Ada@Example.COM ", tenant="ACME")


async def test_failed_logins_look_the_same_whatever_was_wrong(
    kraliki_client, kraliki_platform, acme
):
    globex = await make_tenant(kraliki_platform, "globex")
    await make_user(kraliki_platform, acme, "ada@example.com")
    await make_user(kraliki_platform, globex, "grace@example.com")
    attempts = {
        "wrong password": {"tenant": "acme", "email": "ada@example.com", "password": "nope"},
        "unknown e-mail": {"tenant": "acme", "email": "nobody@example.com", "password": PASSWORD},
        "unknown tenant": {"tenant": "initech", "email": "ada@example.com", "password": PASSWORD},
        "user of another tenant": {
            "tenant": "acme",
            "email": "grace@example.com",
            "password": PASSWORD,
        },
        "tenant user as operator": {"email": "ada@example.com", "password": PASSWORD},
    }
    bodies = {}
    for what, attempt in attempts.items():
        response = await kraliki_client.post(LOGIN, json=attempt)
        body = problem(response, 401, "invalid-credentials")
        body.pop("instance", None)
        bodies[what] = body
    first = bodies["wrong password"]
    assert all(body == first for body in bodies.values()), bodies


async def test_inactive_user_cannot_log_in(kraliki_client, kraliki_platform, acme):
    user_id = await make_user(kraliki_platform, acme, "ada@example.com")
    await run(
        kraliki_platform, update(User).where(User.id == user_id).values(is_active=False), acme
    )
    response = await kraliki_client.post(
        LOGIN, json={"tenant": "acme", "email": "ada@example.com", "password": PASSWORD}
    )
    problem(response, 401, "invalid-credentials")


async def test_operator_logs_in_without_a_tenant(kraliki_client, kraliki_platform):
    settings = kraliki_platform.settings.model_copy(
        update={
            "bootstrap_email": "Root@Example.com",
            "bootstrap_password": SecretStr(OPERATOR_PASSWORD),
        }
    )
    assert (await bootstrap_operator(kraliki_platform.database, settings)).created
    pair = await token_pair(kraliki_client, " root@example.COM", OPERATOR_PASSWORD, tenant=None)
    assert pair["token_type"] == "Bearer"
    assert pair["refresh_token"].startswith("krt_platform_")
    claims = claims_of(pair["access_token"])
    assert claims["knd"] == "operator"
    assert "tid" not in claims
    # The token carries the platform permissions: system.plugins:read and platform.audit:read.
    headers = bearer(pair["access_token"])
    assert (await kraliki_client.get(SYSTEM_PLUGINS, headers=headers)).status_code == 200
    assert (await kraliki_client.get(OPERATOR_AUDIT, headers=headers)).status_code == 200


async def test_operator_me_shows_platform_permissions_and_no_tenant(
    kraliki_client, kraliki_platform
):
    operator_id = await make_operator(kraliki_platform, "op@example.com")
    pair = await token_pair(kraliki_client, "op@example.com", OPERATOR_PASSWORD, tenant=None)
    response = await kraliki_client.get(ME, headers=bearer(pair["access_token"]))
    assert response.status_code == 200, response.text
    me = response.json()
    assert me["kind"] == "operator"
    assert me["subject"] == str(operator_id)
    assert me["tenant"] is None
    assert me["roles"] == []
    assert {"system.plugins:read", "platform.audit:read"} <= set(me["permissions"])
    assert "users:read" not in me["permissions"]


async def test_operator_token_is_refused_on_tenant_routes(kraliki_client, kraliki_platform):
    await make_operator(kraliki_platform, "op@example.com")
    pair = await token_pair(kraliki_client, "op@example.com", OPERATOR_PASSWORD, tenant=None)
    headers = bearer(pair["access_token"])
    problem(await kraliki_client.get(USERS, headers=headers), 403, "forbidden")
    problem(await kraliki_client.get(AUDIT, headers=headers), 403, "forbidden")
    created = await kraliki_client.post(
        USERS, headers=headers, json={"email": "x@example.com", "password": PASSWORD}
    )
    problem(created, 403, "forbidden")


async def test_operator_login_refusals(kraliki_client, kraliki_platform, acme):
    operator_id = await make_operator(kraliki_platform, "op@example.com")
    as_tenant_user = await kraliki_client.post(
        LOGIN, json={"tenant": "acme", "email": "op@example.com", "password": OPERATOR_PASSWORD}
    )
    problem(as_tenant_user, 401, "invalid-credentials")
    wrong = await kraliki_client.post(LOGIN, json={"email": "op@example.com", "password": "nope"})
    problem(wrong, 401, "invalid-credentials")
    await run(
        kraliki_platform,
        update(PlatformOperator).where(PlatformOperator.id == operator_id).values(is_active=False),
    )
    inactive = await kraliki_client.post(
        LOGIN, json={"email": "op@example.com", "password": OPERATOR_PASSWORD}
    )
    problem(inactive, 401, "invalid-credentials")


async def test_me_lists_the_users_roles_and_permissions(kraliki_client, kraliki_platform, acme):
    user_id = await make_user(
        kraliki_platform, acme, "sue@example.com", roles=["supervisor", "agent"]
    )
    pair = await token_pair(kraliki_client, "sue@example.com")
    response = await kraliki_client.get(ME, headers=bearer(pair["access_token"]))
    assert response.status_code == 200
    me = response.json()
    assert me["subject"] == str(user_id)
    assert me["kind"] == "user"
    assert me["label"] == "sue@example.com"
    assert me["tenant"] == {"id": str(acme), "slug": "acme", "name": "Acme"}
    assert me["roles"] == ["agent", "supervisor"]
    assert {"profile:read", "users:read"} <= set(me["permissions"])
    assert "users:write" not in me["permissions"]
    assert "tenant.ownership:manage" not in me["permissions"]
    assert me["permissions"] == sorted(me["permissions"])


async def test_missing_or_malformed_credentials_get_401_with_a_challenge(kraliki_client, acme):
    cases = {
        "no header": {},
        "basic scheme": {"Authorization": "Basic YWRhOnB3"},
        "empty bearer": {"Authorization": "Bearer "},
        "garbage": {"Authorization": "Bearer garbage"},
        "jwt-shaped garbage": {"Authorization": "Bearer a.b.c"},
        "malformed api key": {"Authorization": "Bearer kvk_nothing"},
        "api key of no tenant": {"Authorization": "Bearer kvk_platform_" + "x" * 43},
        "unknown api key": {"Authorization": f"Bearer kvk_{acme.hex}_" + "x" * 43},
        "refresh token as bearer": {"Authorization": f"Bearer krt_{acme.hex}_" + "x" * 43},
    }
    for what, headers in cases.items():
        response = await kraliki_client.get(ME, headers=headers)
        assert response.status_code == 401, what
        unauthenticated(response)


async def test_expired_access_token_gets_401(kraliki_client, kraliki_platform, acme):
    await make_user(kraliki_platform, acme, "ada@example.com")
    pair = await token_pair(kraliki_client, "ada@example.com")
    key = await signing_key(kraliki_platform)
    past = datetime.now(UTC) - timedelta(hours=1)
    claims = claims_of(pair["access_token"]) | {"iat": past, "exp": past + timedelta(minutes=15)}
    expired = jwt.encode(claims, key, algorithm="HS256")
    unauthenticated(await kraliki_client.get(ME, headers=bearer(expired)))
    # The same claims with a future expiry, signed with the same key, are accepted.
    fresh = jwt.encode(claims | {"exp": datetime.now(UTC) + timedelta(minutes=5)}, key, "HS256")
    assert (await kraliki_client.get(ME, headers=bearer(fresh))).status_code == 200


async def test_forged_access_tokens_get_401(kraliki_client, kraliki_platform, acme):
    globex = await make_tenant(kraliki_platform, "globex")
    await make_user(kraliki_platform, acme, "ada@example.com")
    pair = await token_pair(kraliki_client, "ada@example.com")
    claims = claims_of(pair["access_token"])
    key = await signing_key(kraliki_platform)
    forgeries = {
        # Even correctly signed: a token names its tenant, and globex has no such user.
        "moved to another tenant": jwt.encode(claims | {"tid": str(globex)}, key, "HS256"),
        "operator kind with a tenant": jwt.encode(claims | {"knd": "operator"}, key, "HS256"),
        "api key kind": jwt.encode(claims | {"knd": "api_key"}, key, "HS256"),
        "no session": jwt.encode({k: v for k, v in claims.items() if k != "sid"}, key, "HS256"),
        "no issuer": jwt.encode({k: v for k, v in claims.items() if k != "iss"}, key, "HS256"),
        "another issuer": jwt.encode(claims | {"iss": "elsewhere"}, key, "HS256"),
        "unknown session": jwt.encode(
            claims | {"sid": "00000000-0000-0000-0000-000000000000"}, key, "HS256"
        ),
        # Valid claims that would be accepted if the signature were not checked:
        "another key": jwt.encode(claims, "another key, at least 32 characters long", "HS256"),
        "alg none": jwt.encode(claims, None, algorithm="none"),
        "longer life, old signature": _swap_payload(
            pair["access_token"], claims | {"exp": claims["exp"] + 3600}
        ),
    }
    for what, token in forgeries.items():
        response = await kraliki_client.get(ME, headers=bearer(token))
        assert response.status_code == 401, what
        unauthenticated(response)


def _swap_payload(token: str, claims: dict[str, object]) -> str:
    """``token`` with its payload replaced and the original signature kept."""
    header, _, signature = token.split(".")
    _, payload, _ = jwt.encode(claims, "irrelevant key, only the payload is kept", "HS256").split(
        "."
    )
    return f"{header}.{payload}.{signature}"


async def test_failed_and_successful_logins_are_audited_without_the_password(
    kraliki_client, kraliki_platform, acme
):
    admin_id = await make_user(kraliki_platform, acme, "admin@example.com", roles=["admin"])
    secret_attempt = "wrong but secret password"
    failed = await kraliki_client.post(
        LOGIN, json={"tenant": "acme", "email": "admin@example.com", "password": secret_attempt}
    )
    problem(failed, 401, "invalid-credentials")
    unknown = await kraliki_client.post(
        LOGIN, json={"tenant": "acme", "email": "ghost@example.com", "password": secret_attempt}
    )
    problem(unknown, 401, "invalid-credentials")
    ok = await kraliki_client.post(
        LOGIN, json={"tenant": "acme", "email": "admin@example.com", "password": PASSWORD}
    )
    assert ok.status_code == 200
    audit = await kraliki_client.get(
        AUDIT, headers=bearer(ok.json()["access_token"]), params={"action": "auth."}
    )
    assert audit.status_code == 200
    events = audit.json()["items"]
    by_action: dict[str, list[dict[str, object]]] = {}
    for event in events:
        by_action.setdefault(event["action"], []).append(event)
    (login,) = by_action["auth.login"]
    assert login["outcome"] == "success"
    assert login["target_id"] == str(admin_id)
    assert login["actor_label"] == "admin@example.com"
    assert login["source_address"] == "127.0.0.1"
    failures = {event["details"]["reason"]: event for event in by_action["auth.login_failed"]}
    assert set(failures) == {"bad_password", "unknown_user"}
    assert failures["bad_password"]["outcome"] == "failure"
    assert failures["bad_password"]["target_id"] == str(admin_id)
    assert failures["unknown_user"]["actor_label"] == "ghost@example.com"
    assert failures["unknown_user"]["target_id"] is None
    for response in (failed, unknown, ok, audit):
        assert secret_attempt not in response.text
        assert PASSWORD not in response.text


async def test_operator_logins_go_to_the_operator_log_only(kraliki_client, kraliki_platform, acme):
    operator_id = await make_operator(kraliki_platform, "op@example.com")
    await make_user(kraliki_platform, acme, "admin@example.com", roles=["admin"])
    failed = await kraliki_client.post(LOGIN, json={"email": "op@example.com", "password": "nah"})
    problem(failed, 401, "invalid-credentials")
    operator = await token_pair(kraliki_client, "op@example.com", OPERATOR_PASSWORD, tenant=None)
    events = await audit_events(kraliki_client, bearer(operator["access_token"]), OPERATOR_AUDIT)
    assert [(e["action"], e["outcome"]) for e in events] == [
        ("auth.login", "success"),  # newest first
        ("auth.login_failed", "failure"),
    ]
    assert {e["operator_id"] for e in events} == {str(operator_id)}
    assert OPERATOR_PASSWORD not in str(events)
    admin = await token_pair(kraliki_client, "admin@example.com")
    tenant_events = await audit_events(kraliki_client, bearer(admin["access_token"]))
    assert [e["action"] for e in tenant_events] == ["auth.login"]
    assert tenant_events[0]["actor_label"] == "admin@example.com"


async def test_login_validation_errors_do_not_echo_the_password(kraliki_client, acme):
    password = "p" * 1025  # longer than allowed
    response = await kraliki_client.post(
        LOGIN, json={"tenant": "acme", "email": "ada@example.com", "password": password}
    )
    problem(response, 422, "validation-error")
    assert password not in response.text
    extra = await kraliki_client.post(
        LOGIN, json={"email": "ada@example.com", "password": PASSWORD, "otp": "123456"}
    )
    problem(extra, 422, "validation-error")
    assert PASSWORD not in extra.text
