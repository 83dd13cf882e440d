from __future__ import annotations

import pytest

from kernel.testing import add_operator, login

OPERATOR_EMAIL = "ops@platform.example.com"
OPERATOR_PASSWORD = "operator password 123"


@pytest.fixture
async def operator_headers(kraliki_platform, kraliki_client):
    await add_operator(kraliki_platform, OPERATOR_EMAIL, OPERATOR_PASSWORD)
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
