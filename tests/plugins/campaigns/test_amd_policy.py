"""The answering-machine policy the dialer and the agent path read from a campaign."""

from __future__ import annotations

from typing import Any

import pytest

from plugins.calls import Hangup, MachineDetection, Say
from plugins.campaigns import AmdAction, Campaign, machine_action, machine_detection
from plugins.campaigns.amd import machine_message


def campaign(amd: dict[str, Any]) -> Campaign:
    return Campaign(amd=amd)


@pytest.mark.parametrize(
    ("amd", "action", "detection"),
    [
        ({}, AmdAction.HANGUP, MachineDetection.DETECT),
        ({"enabled": True, "on_machine": "hangup"}, AmdAction.HANGUP, MachineDetection.DETECT),
        (
            {"enabled": True, "on_machine": "message", "message": "Call us back."},
            AmdAction.MESSAGE,
            MachineDetection.DETECT_MESSAGE_END,
        ),
        ({"enabled": True, "on_machine": "agent"}, AmdAction.AGENT, MachineDetection.DETECT),
        ({"enabled": False, "on_machine": "message", "message": "x"}, None, MachineDetection.OFF),
    ],
)
def test_the_policy_and_the_detection_it_asks_for(amd, action, detection):
    assert machine_action(campaign(amd)) == action
    assert machine_detection(campaign(amd)) is detection


def test_the_message_is_said_then_the_call_hangs_up():
    steps = machine_message(campaign({"on_machine": "message", "message": "Call us back."}))
    assert steps == [Say(text="Call us back."), Hangup()]
