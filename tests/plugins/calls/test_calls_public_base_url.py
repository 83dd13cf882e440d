"""Where providers are told to send webhooks when KRALIKI_CALLS_PUBLIC_BASE_URL is unset: the
address ``kraliki serve`` serves on, so loopback calls progress on any port."""

from __future__ import annotations

import pytest

from kernel._serve import served_base_url
from plugins.calls.testing import calls_state


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("127.0.0.1", 8000, "http://127.0.0.1:8000"),
        ("0.0.0.0", 9000, "http://127.0.0.1:9000"),
        ("::", 9000, "http://[::1]:9000"),
        ("::1", 9001, "http://[::1]:9001"),
        ("api.internal", 80, "http://api.internal:80"),
    ],
)
def test_the_served_address_is_one_this_machine_reaches(host, port, url):
    assert served_base_url(host, port) == url


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
