"""Permissions of the sentiment plugin (tenant-scoped)."""

from __future__ import annotations

from kernel import Permission

SENTIMENT_READ = Permission(
    "sentiment",
    "read",
    "See a call's sentiment (overall, per speaker, its trend and most negative moments, with "
    "what was said) and sentiment trends per agent, queue, campaign and day.",
    ("admin", "supervisor"),
)
SENTIMENT_ANALYZE = Permission(
    "sentiment",
    "analyze",
    "Analyse a call's stored transcript again on demand (with the organization's model).",
    ("admin", "supervisor"),
)
SENTIMENT_LIVE = Permission(
    "sentiment",
    "live",
    "Receive calls' sentiment as it changes on the real-time stream (sentiment.call.updated): "
    "labels and scores, no words said.",
    ("admin", "supervisor", "agent"),
)
PERMISSIONS = [SENTIMENT_READ, SENTIMENT_ANALYZE, SENTIMENT_LIVE]
