"""The dialing engine: the ``campaigns.dial`` job (:mod:`.engine`), per-mode pacing
(:mod:`.pacing`), the roster written at activation (:mod:`.roster`), outcomes from the
calls plugin's events (:mod:`.outcomes`) and the retry rules (:mod:`.retry`)."""

from __future__ import annotations

from plugins.campaigns.dialer.engine import DIAL_JOB, TOPIC, dial, wake
from plugins.campaigns.dialer.roster import write_roster

__all__ = ["DIAL_JOB", "TOPIC", "dial", "wake", "write_roster"]
