"""Problem types of contact filters and segments (RFC 9457, ``/problems/<slug>``)."""

from __future__ import annotations

from kernel import define_problem

FILTER_UNKNOWN_FIELDS = define_problem(
    "contacts-filter-unknown-fields",
    "Unknown custom fields",
    422,
    "The filter names custom fields your organization has not defined (`fields` lists them).",
)
FILTER_INVALID = define_problem(
    "contacts-filter-invalid",
    "Filter invalid",
    422,
    "A custom field condition does not fit its field: an operator the field's type has no use "
    "for, or a value of the wrong type or not among the field's choices (`errors` lists each "
    "with its `field`, `op` and `message`).",
)
SEGMENT_NOT_FOUND = define_problem(
    "contacts-segment-not-found",
    "Segment not found",
    404,
    "No segment of your organization has this id.",
)
SEGMENT_EXISTS = define_problem(
    "contacts-segment-exists",
    "Segment exists",
    409,
    "The organization already has a segment of this name.",
)
SEGMENT_CHANGED = define_problem(
    "contacts-segment-changed",
    "Segment changed",
    412,
    "The segment changed since you read it (`If-Match` names an older version, `version` is "
    "the current one); read it again and reapply your change.",
)
SEGMENT_WRONG_KIND = define_problem(
    "contacts-segment-wrong-kind",
    "Wrong kind of segment",
    409,
    "Members are added to and removed from static segments only, and only dynamic segments "
    "have a filter.",
)
UNKNOWN_CONTACTS = define_problem(
    "contacts-segment-unknown-contacts",
    "Unknown contacts",
    422,
    "Some ids name no contact of your organization (or a merged or erased one); `contact_ids` "
    "lists them and nothing was changed.",
)
