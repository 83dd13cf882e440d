"""The twilio plugin as the platform sees it: its provider, its secrets and their validator."""

from __future__ import annotations

import uuid

import pytest

import plugins.twilio.plugin
from kernel import Platform, tenant_scope
from kernel.testing import app_client, create_tenant
from plugins.calls import Capability, installed_providers
from plugins.twilio.config import TWILIO_API, TwilioSettings
from plugins.twilio.provider import TwilioProvider
from plugins.twilio.testing import TwilioDouble


async def test_the_provider_is_registered(platform: Platform):
    spec = installed_providers(platform).get("twilio")
    assert spec.factory is TwilioProvider
    assert spec.secrets == ("twilio.account_sid", "twilio.auth_token")
    assert spec.default_calls_per_second == 1.0
    assert Capability.MUTE not in spec.capabilities  # single calls cannot be muted
    assert Capability.SPEECH_RECOGNITION in spec.capabilities  # <Gather input="speech">
    assert spec.capabilities == set(Capability) - {Capability.MUTE}
    assert TwilioProvider.style == "document"
    assert platform.plugins.get("twilio").info.requires == ("calls",)


def test_the_plugin_requires_calls():
    info = plugins.twilio.plugin.kraliki_plugin_info()
    assert (info.name, info.requires) == ("twilio", ("calls",))


async def test_the_secrets_are_declared_with_their_formats(platform: Platform):
    sid = platform.vault.spec("twilio.account_sid")
    token = platform.vault.spec("twilio.auth_token")
    assert (sid.kind, token.kind) == ("credential", "auth_token")
    assert sid.format_problem("AC" + "0f" * 16) is None
    assert sid.format_problem("SK" + "0f" * 16) is not None
    assert token.format_problem("0f" * 16) is None
    assert token.format_problem("not-a-token") is not None
    assert sid.validator is not None
    assert token.validator is not None


def test_settings_defaults_and_environment(monkeypatch):
    defaults = TwilioSettings(_env_file=None)
    assert defaults.api_base_url == TWILIO_API
    assert (defaults.timeout_seconds, defaults.recording_format) == (10.0, "mp3")
    monkeypatch.setenv("KRALIKI_TWILIO_API_BASE_URL", "http://127.0.0.1:9999/twilio")
    assert TwilioSettings(_env_file=None).api_base_url == "http://127.0.0.1:9999/twilio"
    monkeypatch.setenv("KRALIKI_TWILIO_API_BASE_URL", "ftp://nope")
    with pytest.raises(ValueError):
        TwilioSettings(_env_file=None)


# --- validating stored credentials through the vault API -----------------------------------


@pytest.fixture
async def validate(make_app, kraliki_authenticate):
    """``await validate(account_sid, auth_token, name)``: store the pair for a new tenant
    and ask the vault API to validate ``name``; the answer's body."""
    app = await make_app()
    platform: Platform = app.state.platform

    async def run(account_sid: str | None, auth_token: str | None, name: str) -> dict:
        tenant = await create_tenant(platform, f"t{uuid.uuid4().hex[:8]}")
        with tenant_scope(tenant):
            async with platform.database.session() as session:
                for key, value in (("account_sid", account_sid), ("auth_token", auth_token)):
                    if value is not None:
                        await platform.vault.put(session, f"twilio.{key}", value, actor="test")
                await session.commit()
        kraliki_authenticate(app, "vault.secrets:validate", kind="user", tenant_id=tenant)
        async with app_client(app) as client:
            response = await client.post(f"/api/v1/vault/secrets/{name}/validate")
        assert response.status_code == 200, response.text
        return response.json()

    return run


@pytest.mark.parametrize("name", ["twilio.account_sid", "twilio.auth_token"])
async def test_valid_credentials(validate, double: TwilioDouble, name):
    result = await validate(double.account_sid, double.auth_token, name)
    assert result["status"] == "valid"
    [fetch] = double.to("GET", f"/Accounts/{double.account_sid}.json")
    assert fetch.auth == (double.account_sid, double.auth_token)


async def test_a_wrong_token_is_invalid(validate, double):
    result = await validate(double.account_sid, "0" * 32, "twilio.auth_token")
    assert result["status"] == "invalid"
    assert "20003" in result["detail"]
    assert "0" * 32 not in str(result)


async def test_a_suspended_account_is_invalid(validate, double):
    account = double.add_account(status="suspended")
    result = await validate(account.sid, account.auth_token, "twilio.account_sid")
    assert (result["status"], result["detail"]) == ("invalid", "the Twilio account is suspended")


async def test_one_of_the_pair_alone_cannot_be_tested(validate, double):
    result = await validate(None, double.auth_token, "twilio.auth_token")
    assert result["status"] == "invalid"
    assert "store both" in result["detail"]
    assert double.requests == []


async def test_twilio_down_is_unreachable(validate, double):
    double.fail_next(10, 503)
    result = await validate(double.account_sid, double.auth_token, "twilio.auth_token")
    assert result["status"] == "unreachable"
