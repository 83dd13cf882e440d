"""The address ``kraliki serve`` exports as KRALIKI_SERVED_BASE_URL: one this machine reaches,
also when it binds every address."""

from __future__ import annotations

import pytest

from kernel._serve import served_base_url


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
