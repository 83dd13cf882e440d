"""Problem types of the ai plugin (RFC 9457, ``/problems/<slug>``)."""

from __future__ import annotations

from kernel import define_problem

SETTINGS_INVALID = define_problem(
    "ai-settings-invalid",
    "Invalid AI settings",
    422,
    "The settings cannot be accepted; `errors` lists each value with its `loc` and `message` "
    "(a provider or task that does not exist, a redaction pattern that is not a valid or safe "
    "regular expression).",
)
SETTINGS_CHANGED = define_problem(
    "ai-settings-changed",
    "AI settings changed",
    412,
    "The settings changed since you read them (`If-Match` names an older version).",
)
PROVIDER_NOT_FOUND = define_problem(
    "ai-provider-not-found",
    "Model provider not found",
    404,
    "No model provider of this name is loaded (`GET /api/v1/ai/providers` lists them).",
)
USAGE_RANGE_INVALID = define_problem(
    "ai-usage-range-invalid",
    "Invalid usage range",
    422,
    "`from` must not be after `to`, and a range spans at most 366 days.",
)
