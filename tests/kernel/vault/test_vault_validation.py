"""Validation through the resilience helper against a local provider stand-in: the verdict
follows what the provider answers, and the key only ever travels to the provider."""

from __future__ import annotations

import pytest
import stamina
from flaky_upstream import Reply

from kernel import SecretCheck, SecretSpec, ValidationResult

from .conftest import SECRETS


@pytest.fixture
def kraliki_extra_plugins(make_plugin, upstream):
    async def ask_provider(check: SecretCheck) -> ValidationResult:
        response = await check.platform.resilience.request(
            "remote",
            "GET",
            f"{upstream.url}/v1/me",
            headers={"Authorization": f"Bearer {check.value.reveal()}"},
            tenant_id=check.tenant_id,
        )
        return ValidationResult(True, f"account {response.json()['ok']}")

    async def crash(check: SecretCheck) -> ValidationResult:
        raise RuntimeError(f"bug that quotes {check.value.reveal()}")

    specs = [
        SecretSpec("remote.api_key", "Remote key.", validator=ask_provider),
        SecretSpec("remote.buggy_key", "Buggy.", validator=crash),
    ]
    return [make_plugin("remote", vault_secrets=lambda: specs)]


@pytest.fixture(autouse=True)
def no_retry_waits():
    with stamina.set_testing(True, attempts=3, cap=True):
        yield


async def validate(client, org, name="remote.api_key") -> dict:
    response = await client.post(f"{SECRETS}/{name}/validate", headers=org.admin)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_verdict_follows_the_provider(kraliki_client, make_org, upstream, caplog):
    org = await make_org("alpha")
    key = "rk_live_validation_key"
    await kraliki_client.put(f"{SECRETS}/remote.api_key", headers=org.admin, json={"value": key})

    assert (await validate(kraliki_client, org))["status"] == "valid"
    assert upstream.received[-1].headers["authorization"] == f"Bearer {key}"

    upstream.then(Reply(401, body=b'{"error": "bad key"}'))
    refused = await validate(kraliki_client, org)
    assert refused == {**refused, "status": "invalid"}
    assert "401" in refused["detail"]

    upstream.fail_next(1, status=503)
    assert (await validate(kraliki_client, org))["status"] == "valid"  # retried, then fine

    upstream.always(Reply(503, body=b"down"))
    down = await validate(kraliki_client, org)
    assert down["status"] == "unreachable"
    stored = (await kraliki_client.get(f"{SECRETS}/remote.api_key", headers=org.admin)).json()
    assert stored["validation_status"] == "unreachable"
    assert key not in caplog.text


async def test_a_crashing_validator_is_an_error_not_a_500(kraliki_client, make_org, caplog):
    org = await make_org("alpha")
    key = "rk_buggy_key_value"
    await kraliki_client.put(f"{SECRETS}/remote.buggy_key", headers=org.admin, json={"value": key})
    verdict = await validate(kraliki_client, org, "remote.buggy_key")
    assert verdict["status"] == "error"
    assert key not in verdict["detail"]
    assert "RuntimeError" in caplog.text
    assert key not in caplog.text
