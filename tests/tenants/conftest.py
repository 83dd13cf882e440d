from __future__ import annotations

import pytest

from kernel._operators import PlatformOperator
from kernel._passwords import hash_password
from kernel.testing import login

OPERATOR_EMAIL = "ops@platform.example.com"
OPERATOR_PASSWORD = "operator password 123"


@pytest.fixture
async def operator_headers(kraliki_platform, kraliki_client):
    async with kraliki_platform.database.session() as session:
        session.add(
            PlatformOperator(email=OPERATOR_EMAIL, password_hash=hash_password(OPERATOR_PASSWORD))
        )
        await session.commit()
    return await login(kraliki_client, OPERATOR_EMAIL, OPERATOR_PASSWORD)


@pytest.fixture
def create_tenant(kraliki_client, operator_headers):
    async def create(slug: str, owner: str | None = None) -> dict:
        response = await kraliki_client.post(
            "/api/v1/tenants",
            headers=operator_headers,
            json={
                "name": slug.title(),
                "slug": slug,
                "owner_email": owner or f"owner@{slug}.example.com",
                "owner_password": "owner password 123",
            },
        )
        assert response.status_code == 201, response.text
        return response.json()

    return create


@pytest.fixture
def owner_login():
    async def log_in(client, slug: str) -> dict[str, str]:
        return await login(client, f"owner@{slug}.example.com", "owner password 123", tenant=slug)

    return log_in


@pytest.fixture
def operator_credentials() -> tuple[str, str]:
    return OPERATOR_EMAIL, OPERATOR_PASSWORD
