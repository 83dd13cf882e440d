"""Sentiment tests: calls on the loopback carrier (a served app with its workers) whose
scripted callee says things; ``sentiment_calls`` helpers below."""

from __future__ import annotations

from plugins.loopback import testing

loopback_calls = testing.loopback_calls
