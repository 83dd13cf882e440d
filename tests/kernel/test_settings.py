"""Settings from KRALIKI_* variables."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kernel import Settings
from kernel._settings import DEFAULT_DATABASE_URL, normalize_database_url


def test_defaults_need_nothing(monkeypatch):
    for name in ("KRALIKI_DATABASE_URL", "KRALIKI_PLUGINS", "KRALIKI_BOOTSTRAP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.dialect == "sqlite"
    assert settings.owner_database_url == settings.database_url
    assert settings.plugins is None
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///var/x.db", "sqlite+aiosqlite:///var/x.db"),
        ("postgres://app@db/kraliki", "postgresql+asyncpg://app@db/kraliki"),
        ("postgresql://app@db/kraliki", "postgresql+asyncpg://app@db/kraliki"),
        ("postgresql+asyncpg://app@db/kraliki", "postgresql+asyncpg://app@db/kraliki"),
    ],
)
def test_database_urls_map_to_async_drivers(given, expected):
    assert normalize_database_url(given) == expected


def test_unsupported_database_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("KRALIKI_DATABASE_URL", "mysql://root@localhost/x")
    with pytest.raises(ValidationError, match="scheme 'mysql' is not supported"):
        Settings(_env_file=None)


def test_postgres_selected_from_environment(monkeypatch):
    monkeypatch.setenv("KRALIKI_DATABASE_URL", "postgresql://app@db/kraliki")
    monkeypatch.setenv("KRALIKI_MIGRATION_DATABASE_URL", "postgresql://owner@db/kraliki")
    settings = Settings(_env_file=None)
    assert settings.dialect == "postgresql"
    assert settings.owner_database_url == "postgresql+asyncpg://owner@db/kraliki"


def test_bootstrap_password_rules(monkeypatch):
    monkeypatch.setenv("KRALIKI_BOOTSTRAP_PASSWORD", "")
    assert Settings(_env_file=None).bootstrap_password is None
    monkeypatch.setenv("KRALIKI_BOOTSTRAP_PASSWORD", "short")
    with pytest.raises(ValidationError, match="at least 12 characters"):
        Settings(_env_file=None)
    monkeypatch.setenv("KRALIKI_BOOTSTRAP_PASSWORD", "correct horse battery")
    settings = Settings(_env_file=None)
    assert "correct horse" not in repr(settings)
