"""Fixtures of the real-time tests: the ``rt`` plugin and a served site."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from realtime_support import Site, rt_plugin, running_site


@pytest.fixture
def kraliki_installed_plugins() -> list[object]:
    return []


@pytest.fixture
def kraliki_extra_plugins(make_plugin: Any) -> list[object]:
    return [rt_plugin(make_plugin)]


@pytest.fixture
async def site(kraliki_make_app: Any) -> AsyncIterator[Site]:
    """The platform served on loopback (heartbeats every 0.5 s), tenants alpha and beta."""
    async with running_site(kraliki_make_app, realtime_heartbeat_seconds=0.5) as served:
        yield served
