"""Helpers for the identity tests: problem assertions, direct database set-up, small API calls.

Set-up that is not under test (tenants, users, operators, moving clocks forward) goes straight
to the database; what is under test goes through the HTTP API.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import httpx
import jwt
from sqlalchemy import update
from sqlalchemy.sql import Executable

from kernel import Platform, Tenant, tenant_scope
from kernel._identity.models import PlatformSecret
from kernel._identity.provisioning import add_user
from kernel._identity.service import SIGNING_KEY_NAME
from kernel._operators import PlatformOperator
from kernel._passwords import hash_password
from kernel.testing import DEFAULT_TEST_PASSWORD

PASSWORD = DEFAULT_TEST_PASSWORD
OPERATOR_PASSWORD = "operator password 123"

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/auth/me"
ACCEPT = "/api/v1/auth/invitations/accept"
USERS = "/api/v1/users"
ROLES = "/api/v1/roles"
PERMISSIONS = "/api/v1/permissions"
API_KEYS = "/api/v1/api-keys"
AUDIT = "/api/v1/audit"
OPERATOR_AUDIT = "/api/v1/audit/platform"
SYSTEM_PLUGINS = "/api/v1/system/plugins"  # needs the platform permission system.plugins:read


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    """Assert ``response`` is the RFC 9457 problem ``slug`` with ``status``; return the body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{slug}", body
    assert body["status"] == status
    return body


def unauthenticated(response: httpx.Response) -> dict[str, Any]:
    """A 401 for a missing or dead credential, with the Bearer challenge."""
    body = problem(response, 401, "unauthenticated")
    assert response.headers.get("www-authenticate") == "Bearer"
    return body


async def run(
    platform: Platform, statement: Executable, tenant_id: uuid.UUID | None = None
) -> None:
    """Execute and commit one statement (in ``tenant_id``'s scope when given)."""
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            await session.execute(statement)
            await session.commit()


async def make_tenant(platform: Platform, slug: str) -> uuid.UUID:
    async with platform.database.session() as session:
        tenant = Tenant(slug=slug, name=slug.title())
        session.add(tenant)
        await session.commit()
        return tenant.id


async def make_user(
    platform: Platform,
    tenant_id: uuid.UUID,
    email: str,
    *,
    roles: Sequence[str] = ("agent",),
    password: str = PASSWORD,
) -> uuid.UUID:
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            user_id = await add_user(session, email=email, password=password, roles=roles)
            await session.commit()
            return user_id


async def make_operator(
    platform: Platform, email: str = "op@example.com", password: str = OPERATOR_PASSWORD
) -> uuid.UUID:
    async with platform.database.session() as session:
        operator = PlatformOperator(email=email, password_hash=hash_password(password))
        session.add(operator)
        await session.commit()
        return operator.id


async def set_tenant_status(platform: Platform, tenant_id: uuid.UUID, status: str) -> None:
    await run(platform, update(Tenant).where(Tenant.id == tenant_id).values(status=status))


async def token_pair(
    client: httpx.AsyncClient,
    email: str,
    password: str = PASSWORD,
    *,
    tenant: str | None = "acme",
) -> dict[str, Any]:
    """Log in and return the whole answer (access and refresh token)."""
    body: dict[str, Any] = {"email": email, "password": password}
    if tenant is not None:
        body["tenant"] = tenant
    response = await client.post(LOGIN, json=body)
    assert response.status_code == 200, response.text
    pair: dict[str, Any] = response.json()
    return pair


async def headers_for(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, *, tenant: str | None = "acme"
) -> dict[str, str]:
    pair = await token_pair(client, email, password, tenant=tenant)
    return bearer(pair["access_token"])


async def audit_events(
    client: httpx.AsyncClient, headers: dict[str, str], path: str = AUDIT, **filters: str
) -> list[dict[str, Any]]:
    response = await client.get(path, headers=headers, params={"limit": 200, **filters})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def signing_key(platform: Platform) -> str:
    """The key the platform generated for access tokens (kept sealed in the database)."""
    async with platform.database.session() as session:
        stored = await session.get(PlatformSecret, SIGNING_KEY_NAME)
    assert stored is not None, "no token was issued yet"
    assert stored.kek_id is not None, "the signing key is stored in clear"
    return await platform.vault.open_platform_secret(SIGNING_KEY_NAME, stored.kek_id, stored.value)


def claims_of(access_token: str) -> dict[str, Any]:
    """The payload of an access token, unverified (to forge variants of it)."""
    payload: dict[str, Any] = jwt.decode(access_token, options={"verify_signature": False})
    return payload
