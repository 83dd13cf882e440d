"""Pacing for outbound campaigns: how many calls to start now, under the abandonment cap.

Pure computation, no database: the dialing engine builds a :class:`PacingSnapshot` from its
rows (agents, calls in flight, measured :class:`AnswerStats`, and the campaign's
:class:`AbandonmentWindow` rebuilt from stored :class:`BucketCounts`), calls :func:`pace`,
starts ``decision.calls`` calls, and emits an event when ``decision.mode`` changes.
``benchmarks/dialer_pacing.py`` runs the same code against a simulated contact center.
"""

from .figures import (
    SAFE_HARBOUR_RATE,
    AnswerStats,
    PacingDecision,
    PacingMode,
    PacingPolicy,
    PacingReason,
    PacingSnapshot,
)
from .ledger import AbandonmentWindow, BucketCounts, WindowCounts
from .pacer import expected_excess, expected_free_agents, expected_live_in_flight, pace

__all__ = [
    "SAFE_HARBOUR_RATE",
    "AbandonmentWindow",
    "AnswerStats",
    "BucketCounts",
    "PacingDecision",
    "PacingMode",
    "PacingPolicy",
    "PacingReason",
    "PacingSnapshot",
    "WindowCounts",
    "expected_excess",
    "expected_free_agents",
    "expected_live_in_flight",
    "pace",
]
