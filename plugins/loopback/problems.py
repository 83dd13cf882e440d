"""Problem types of the loopback plugin (RFC 9457, ``/problems/<slug>``)."""

from __future__ import annotations

from kernel import define_problem

NUMBER_NOT_FOUND = define_problem(
    "loopback-number-not-found",
    "Loopback number not found",
    404,
    "No phone number of your organization on the loopback provider is this number (add it "
    'with `POST /api/v1/calls/numbers`, `"provider": "loopback"`).',
)
SCRIPT_INVALID = define_problem(
    "loopback-script-invalid",
    "Invalid caller script",
    422,
    "The caller's script cannot be run: `detail` names the step (1-based) and why. A caller "
    "dialling in can only `wait`, `press`, `say` and `hangup` (last).",
)
CARRIER_UNAVAILABLE = define_problem(
    "loopback-carrier-unavailable",
    "Loopback carrier unavailable",
    503,
    "The loopback carrier of this process is shutting down; try again.",
)
