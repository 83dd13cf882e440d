"""Fixtures of the agents tests: a tenant with its owner logged in."""

from __future__ import annotations

import pytest


@pytest.fixture
async def owner(kraliki_make_owner):
    return await kraliki_make_owner("acme")
