"""The tenant's Telnyx secrets in the vault: declared with formats, tested against Telnyx."""

from __future__ import annotations

import pytest

from kernel.testing import app_client, create_tenant
from plugins.telnyx.testing import TelnyxDouble

PERMISSIONS = ("vault.secrets:read", "vault.secrets:write", "vault.secrets:validate")


@pytest.fixture
async def admin(app, platform, kraliki_authenticate):
    tenant_id = await create_tenant(platform, "acme")
    kraliki_authenticate(app, *PERMISSIONS, kind="user", tenant_id=tenant_id)
    async with app_client(app) as client:
        yield client


async def put(client, name: str, value: str):
    return await client.put(f"/api/v1/vault/secrets/{name}", json={"value": value})


async def validate(client, name: str) -> dict:
    response = await client.post(f"/api/v1/vault/secrets/{name}/validate")
    assert response.status_code == 200, response.text
    return response.json()


def test_the_three_secrets_are_declared(platform):
    names = {"telnyx.api_key", "telnyx.public_key", "telnyx.connection_id"}
    assert names <= set(platform.vault.specs)
    assert platform.vault.spec("telnyx.api_key").validator is not None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("telnyx.api_key", "sk_live_0123456789abcdef"),
        ("telnyx.public_key", "not-a-key"),
        ("telnyx.public_key", "A" * 44),
        ("telnyx.connection_id", "no spaces please"),
    ],
)
async def test_values_of_the_wrong_shape_are_refused_at_once(admin, name, value):
    response = await put(admin, name, value)
    assert response.status_code == 422
    assert value not in response.text


async def test_the_doubles_values_have_the_right_shape(admin, telnyx):
    for name, value in [
        ("telnyx.api_key", telnyx.api_key),
        ("telnyx.public_key", telnyx.public_key),
        ("telnyx.connection_id", telnyx.connection_id),
    ]:
        assert (await put(admin, name, value)).status_code == 201


async def test_a_valid_api_key(admin, telnyx):
    await put(admin, "telnyx.api_key", telnyx.api_key)
    result = await validate(admin, "telnyx.api_key")
    assert (result["status"], result["detail"]) == ("valid", "Telnyx accepted the key")
    [request] = telnyx.requests
    assert request.path == "/v2/call_control_applications"
    assert request.query == {"page[size]": "1"}


async def test_an_unknown_api_key(admin, telnyx):
    await put(admin, "telnyx.api_key", "KEY_unknown_to_telnyx_0000")
    result = await validate(admin, "telnyx.api_key")
    assert result["status"] == "invalid"
    assert "401" in result["detail"]


async def test_telnyx_down_is_unreachable_not_invalid(admin, telnyx):
    await put(admin, "telnyx.api_key", telnyx.api_key)
    telnyx.fail_next(3, status=503)
    result = await validate(admin, "telnyx.api_key")
    assert result["status"] == "unreachable"


async def test_the_connection_id_is_looked_up_with_the_api_key(admin, telnyx):
    await put(admin, "telnyx.connection_id", telnyx.connection_id)
    result = await validate(admin, "telnyx.connection_id")
    assert result["status"] == "invalid"
    assert "api_key" in result["detail"]
    await put(admin, "telnyx.api_key", telnyx.api_key)
    assert (await validate(admin, "telnyx.connection_id"))["status"] == "valid"
    await put(admin, "telnyx.connection_id", "1999999999")
    result = await validate(admin, "telnyx.connection_id")
    assert result["status"] == "invalid"
    assert "no Call Control application" in result["detail"]


def test_a_public_key_is_base64_of_32_bytes():
    import base64

    assert len(base64.b64decode(TelnyxDouble().public_key)) == 32
