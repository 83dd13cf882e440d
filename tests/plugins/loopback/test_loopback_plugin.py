"""The loopback plugin's place in the platform: its provider, secret, settings, lifecycle."""

from __future__ import annotations

import uuid

import pytest

import plugins.loopback.plugin
from kernel import MissingRequirementError, create_app
from plugins.calls import Capability, PlaceCall, ProviderRefused, installed_providers
from plugins.loopback.carrier.state import loopback_state
from plugins.loopback.config import LoopbackSettings
from plugins.loopback.provider import LoopbackProvider


def test_the_provider_is_registered(platform, provider):
    providers = installed_providers(platform)
    spec = providers.get("loopback")
    assert providers.owner("loopback") == "loopback"
    assert spec.factory is LoopbackProvider
    assert spec.secrets == ()
    assert spec.default_calls_per_second == 10
    assert Capability.RECORDING in spec.capabilities
    assert Capability.SECURE_PAYMENTS in spec.capabilities
    assert "no account" in spec.description
    assert provider.style == "document"
    assert provider.context.plugin == "loopback"
    assert provider.context.webhook_url("status").endswith(
        f"/webhooks/loopback/{provider.context.tenant_id}/status"
    )


def test_it_requires_calls(platform):
    info = platform.plugins.get("loopback").info
    assert info.requires == ("calls",)
    assert platform.plugins.get("loopback").info.prefix == "loopback"


def test_without_calls_the_platform_does_not_start(kraliki_settings):
    with pytest.raises(MissingRequirementError, match="calls"):
        create_app(kraliki_settings, plugins=[plugins.loopback.plugin])


def test_the_signing_secret_is_declared_and_managed(platform):
    spec = platform.vault.spec("loopback.signing.default")
    assert spec.name == "loopback.signing"
    assert spec.managed
    assert spec.kind == "signing_key"


def test_settings_come_from_the_environment(platform, monkeypatch):
    assert loopback_state(platform).settings.time_scale == 0.01  # set by conftest
    monkeypatch.setenv("KRALIKI_LOOPBACK_TIMESTAMP_TOLERANCE_SECONDS", "60")
    monkeypatch.setenv("KRALIKI_LOOPBACK_DEFAULT_TALK_SECONDS", "3.5")
    settings = LoopbackSettings(_env_file=None)
    assert (settings.timestamp_tolerance_seconds, settings.default_talk_seconds) == (60, 3.5)
    monkeypatch.setenv("KRALIKI_LOOPBACK_TIME_SCALE", "0")
    with pytest.raises(ValueError, match="greater than 0"):
        LoopbackSettings(_env_file=None)


async def test_shutdown_closes_the_carrier_and_startup_opens_it(platform, carrier):
    provider = carrier
    request = PlaceCall(call_id=uuid.uuid4(), from_number="+15005550100", to_number="+15005550001")
    await plugins.loopback.plugin.kraliki_shutdown(platform)
    with pytest.raises(ProviderRefused, match="shutting down"):
        await provider.place_call(request)
    plugins.loopback.plugin.kraliki_startup(platform)
    placed = await provider.place_call(request)
    assert placed.provider_call_id in loopback_state(platform).calls
