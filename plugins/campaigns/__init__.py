"""The public API of the ``campaigns`` plugin: what other plugins (and their tests) may
import. Everything else in ``plugins.campaigns`` is private. See
``docs/plugins/campaigns.md``."""

from __future__ import annotations

from plugins.campaigns.amd import AmdAction, machine_action, machine_detection
from plugins.campaigns.models import Campaign, CampaignState, ListEntry, Mode, SourceKind
from plugins.campaigns.permissions import (
    CAMPAIGNS_ACTIVATE,
    CAMPAIGNS_READ,
    CAMPAIGNS_WORK,
    CAMPAIGNS_WRITE,
)

__all__ = [
    "CAMPAIGNS_ACTIVATE",
    "CAMPAIGNS_READ",
    "CAMPAIGNS_WORK",
    "CAMPAIGNS_WRITE",
    "AmdAction",
    "Campaign",
    "CampaignState",
    "ListEntry",
    "Mode",
    "SourceKind",
    "machine_action",
    "machine_detection",
]
