"""The public API of the ``supervisor`` plugin: what other plugins (analytics) may import.
Everything else in ``plugins.supervisor`` is private. See ``docs/plugins/supervisor.md``."""

from __future__ import annotations

from plugins.supervisor.figures import CampaignFigure, DisabledEndpoint
from plugins.supervisor.models import Alert, AlertRule, SupervisionMode, SupervisionSession
from plugins.supervisor.permissions import (
    ALERTS_WRITE,
    DASHBOARD_READ,
    SUPERVISOR_BARGE,
    SUPERVISOR_MONITOR,
    SUPERVISOR_WHISPER,
)
from plugins.supervisor.wallboard.schemas import Sentiment

__all__ = [
    "ALERTS_WRITE",
    "DASHBOARD_READ",
    "SUPERVISOR_BARGE",
    "SUPERVISOR_MONITOR",
    "SUPERVISOR_WHISPER",
    "Alert",
    "AlertRule",
    "CampaignFigure",
    "DisabledEndpoint",
    "Sentiment",
    "SupervisionMode",
    "SupervisionSession",
]
