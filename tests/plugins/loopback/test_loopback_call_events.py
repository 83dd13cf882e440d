"""The loopback_calls fixture: real busy / no-answer call events for plugins' tests."""

from __future__ import annotations

import pytest

from kernel import DeliveredEvent, Platform
from plugins.loopback.testing import NUMBERS


@pytest.fixture
def kraliki_extra_plugins(make_plugin):
    """A plugin reacting to busy lines, as an integrator's would."""
    heard: list[str] = []

    def on_event(platform: Platform, event: DeliveredEvent) -> None:
        if event.name == "calls.call.busy":
            heard.append(event.payload["to_number"])

    plugin = make_plugin("redial", requires=["calls"], event=on_event)
    plugin.heard = heard
    return [plugin]


@pytest.mark.parametrize("outcome", ["busy", "no-answer"])
async def test_a_real_call_event_reaches_the_plugins(
    loopback_calls, kraliki_extra_plugins, outcome
):
    event = await loopback_calls.call_event(outcome)
    assert event.name == f"calls.call.{outcome}"
    assert event.tenant_id == loopback_calls.tenant_id
    assert event.payload["status"] == outcome
    assert event.payload["to_number"] == NUMBERS[outcome]
    assert event.payload["provider"] == "loopback"
    heard = kraliki_extra_plugins[0].heard
    assert heard == ([NUMBERS["busy"]] if outcome == "busy" else [])
