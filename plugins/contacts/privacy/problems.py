"""Problem types of the privacy routes."""

from __future__ import annotations

from kernel import define_problem

ERASURE_NOT_FOUND = define_problem(
    "contacts-erasure-not-found",
    "Erasure not found",
    404,
    "No erasure of your organization has this id.",
)
