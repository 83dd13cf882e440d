"""Where providers are told to send webhooks when KRALIKI_CALLS_PUBLIC_BASE_URL is unset: the
address ``kraliki serve`` serves on, so loopback calls progress on any port."""

from __future__ import annotations

from plugins.calls.testing import calls_state


async def test_calls_default_to_the_served_address(kraliki_make_app, monkeypatch):
    monkeypatch.delenv("KRALIKI_CALLS_PUBLIC_BASE_URL", raising=False)
    app = await kraliki_make_app(served_base_url="http://127.0.0.1:8123")
    settings = calls_state(app.state.platform).settings
    assert settings.public_base_url == "http://127.0.0.1:8123"


async def test_an_explicit_public_base_url_wins(kraliki_make_app, monkeypatch):
    monkeypatch.setenv("KRALIKI_CALLS_PUBLIC_BASE_URL", "https://voice.example.com")
    app = await kraliki_make_app(served_base_url="http://127.0.0.1:8123")
    settings = calls_state(app.state.platform).settings
    assert settings.public_base_url == "https://voice.example.com"


async def test_without_either_the_default_port_is_assumed(kraliki_make_app, monkeypatch):
    monkeypatch.delenv("KRALIKI_CALLS_PUBLIC_BASE_URL", raising=False)
    monkeypatch.delenv("KRALIKI_SERVED_BASE_URL", raising=False)
    app = await kraliki_make_app()
    assert calls_state(app.state.platform).settings.public_base_url == "http://127.0.0.1:8000"
