"""Logins and rate limits of an app whose Redis (``KRALIKI_REDIS_URL``) is down: they work,
per worker, with one WARNING; never a 500. No Redis needed."""

from __future__ import annotations

import logging
import socket

from kernel.testing import app_client

from .helpers import LOGIN, ME, PASSWORD, headers_for, make_tenant, make_user


def dead_url() -> str:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


async def test_an_app_whose_redis_is_down_still_logs_in_and_limits(kraliki_make_app, caplog):
    app = await kraliki_make_app(
        redis_url=dead_url(),
        redis_timeout_seconds=0.2,
        login_max_failures_per_account=2,
        # One request per 6 s with a burst of 2, per worker while Redis is away: slow enough
        # that a loaded machine's slow requests earn no extra one.
        rate_limit_tenant_per_minute=10,
    )
    platform = app.state.platform
    acme = await make_tenant(platform, "acme")
    await make_user(platform, acme, "ada@example.com")
    with caplog.at_level(logging.WARNING, logger="kraliki.shared"):
        async with app_client(app) as client:
            ada = await headers_for(client, "ada@example.com")
            answered = [(await client.get(ME, headers=ada)).status_code for _ in range(9)]
            assert answered.count(200) in (2, 3)
            assert answered[-1] == 429
            login = {"tenant": "acme", "email": "ada@example.com"}
            for _ in range(2):
                failed = await client.post(LOGIN, json=login | {"password": "wrong"})
                assert failed.status_code == 401
            throttled = await client.post(LOGIN, json=login | {"password": PASSWORD})
            assert throttled.status_code == 429
    assert [r.event for r in caplog.records if r.name == "kraliki.shared"] == [
        "shared_state_unavailable"
    ]
    assert (
        platform.metrics.registry.get_sample_value(
            "kraliki_shared_state_fallbacks_total", {"component": "rate_limit"}
        )
        >= 9
    )
