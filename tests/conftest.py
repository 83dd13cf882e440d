"""Shared test configuration: the kernel.testing fixtures are loaded as a pytest plugin."""

from __future__ import annotations

import pytest

from kernel.testing import postgres_test_urls

ON_POSTGRES = postgres_test_urls() is not None


def pytest_report_header() -> str:
    return f"kraliki test database: {'postgresql' if ON_POSTGRES else 'sqlite'}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(reason="needs PostgreSQL (set KRALIKI_TEST_DATABASE_URL)")
    for item in items:
        if item.get_closest_marker("postgres_only") and not ON_POSTGRES:
            item.add_marker(skip)
