"""Problem types of the sentiment plugin (RFC 9457, ``/problems/<slug>``)."""

from __future__ import annotations

from kernel import define_problem

CALL_NOT_FOUND = define_problem(
    "sentiment-call-not-found",
    "Call sentiment not found",
    404,
    "No call of your organization has this id, or none of its transcript was scored yet.",
)
NO_TRANSCRIPT = define_problem(
    "sentiment-no-transcript",
    "Call has no transcript",
    409,
    "The call has no transcript segments to analyse (it was not transcribed, or nothing was "
    "said yet).",
)
MODEL_FAILED = define_problem(
    "sentiment-model-failed",
    "Sentiment model failed",
    503,
    "The organization's model could not score the transcript now (the provider failed and no "
    "fallback answered); try again later.",
)
