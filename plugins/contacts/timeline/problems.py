"""Problem types of the timeline, the number lookup and privacy routes."""

from __future__ import annotations

from kernel import define_problem

UNKNOWN_CONTACT = define_problem(
    "contacts-unknown-contact",
    "Contact not found",
    404,
    "No contact of your organization has this id.",
)
LOOKUP_INVALID_NUMBER = define_problem(
    "contacts-lookup-invalid-number",
    "Invalid phone number",
    422,
    "The number to look up is not a valid phone number (national numbers are read with the "
    "organization's default country).",
)
