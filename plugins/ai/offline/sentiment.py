"""VADER (a lexicon and rules model for English): the offline sentiment model.

Fast (tens of microseconds a sentence) and deterministic; weak on other languages, sarcasm
and domain words, which is why a tenant may choose an LLM for the ``sentiment`` task.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


@dataclass(frozen=True, slots=True)
class LexiconScore:
    compound: float
    """-1 (most negative) to 1 (most positive); VADER's normalised sum."""
    positive: float
    negative: float
    neutral: float


@cache
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()  # reads the lexicon once per process


def lexicon_sentiment(text: str) -> LexiconScore:
    scores = _analyzer().polarity_scores(text)
    return LexiconScore(
        compound=float(scores["compound"]),
        positive=float(scores["pos"]),
        negative=float(scores["neg"]),
        neutral=float(scores["neu"]),
    )
