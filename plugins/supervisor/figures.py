"""What other plugins tell the supervisor plugin through its hooks (``hookspecs.py``): small
frozen records, so that the supervisor depends on no optional plugin's models."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CampaignFigure:
    """One campaign's figures as the campaigns plugin computes them."""

    campaign_id: uuid.UUID
    name: str
    state: str
    """``draft``, ``active``, ``paused``, ``completed`` or ``archived``."""
    mode: str
    answered_30d: int
    """Calls answered by a person in the rolling 30 days (since the first activation)."""
    abandoned_30d: int
    abandonment_rate_30d: float | None
    """``abandoned_30d / answered_30d`` in percent; None before the first answer."""


@dataclass(frozen=True, slots=True)
class DisabledEndpoint:
    """An outbound webhook endpoint that is disabled now."""

    endpoint_id: uuid.UUID
    name: str
    """What to call it on a screen (its description, else its URL's host)."""
    reason: str
