"""The public API of the ``sentiment`` plugin: its tables (for reports), permissions and the
model's answer for one utterance. Everything else in ``plugins.sentiment`` is private. See
``docs/plugins/sentiment.md``."""

from __future__ import annotations

from plugins.sentiment.models import SentimentCall, SentimentSegment
from plugins.sentiment.permissions import SENTIMENT_ANALYZE, SENTIMENT_LIVE, SENTIMENT_READ
from plugins.sentiment.scoring import SegmentSentiment

__all__ = [
    "SENTIMENT_ANALYZE",
    "SENTIMENT_LIVE",
    "SENTIMENT_READ",
    "SegmentSentiment",
    "SentimentCall",
    "SentimentSegment",
]
