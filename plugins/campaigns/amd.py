"""A campaign's answering-machine policy: which detection its calls ask for, and what is done
when a machine answers (``amd`` on the campaign, ``schemas.CampaignAmd``).

Detection is asynchronous (``plugins.calls.MachineDetection``): the call is connected at
once and its flow runs while the provider listens; the verdict comes back as
``calls.call.machine_detected`` (``dialer/outcomes.py``). On a machine:

* ``hangup``: the call is hung up;
* ``message``: the dialer asked for detection with message end, so the verdict comes when
  the machine's greeting is over (its beep): the call is redirected to say the campaign's
  message, then hang up;
* ``agent``: the call goes on as if a person answered (agent modes: the agent path connects
  it; :func:`machine_action` tells that path what the policy is).

A human verdict changes nothing. Either way the attempt's outcome is ``machine`` or
``human`` by who answered, for the retry rules; ``attempts.amd_action`` records what was done.
"""

from __future__ import annotations

import enum
from typing import Any

from plugins.calls import Hangup, MachineDetection, Say
from plugins.campaigns.models import Campaign


class AmdAction(enum.StrEnum):
    HANGUP = "hangup"
    MESSAGE = "message"
    AGENT = "agent"


def machine_action(campaign: Campaign) -> AmdAction | None:
    """What the campaign does when a machine answers; None when it does not detect."""
    amd = campaign.amd or {}
    if not amd.get("enabled", True):
        return None
    return AmdAction(amd.get("on_machine") or AmdAction.HANGUP.value)


def machine_detection(campaign: Campaign) -> MachineDetection:
    """The detection the campaign's calls ask for: with message end when a message is left
    (the verdict then waits for the beep)."""
    action = machine_action(campaign)
    if action is None:
        return MachineDetection.OFF
    if action is AmdAction.MESSAGE:
        return MachineDetection.DETECT_MESSAGE_END
    return MachineDetection.DETECT


def machine_message(campaign: Campaign) -> list[Any]:
    """The instructions that leave the campaign's message on a machine: say it, hang up."""
    text = str((campaign.amd or {}).get("message") or "")
    return [Say(text=text), Hangup()] if text else [Hangup()]
