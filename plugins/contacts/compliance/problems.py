"""Problem types of the contacts plugin's compliance routes (RFC 9457, ``/problems/<slug>``)."""

from __future__ import annotations

from kernel import define_problem

DNC_ENTRY_NOT_FOUND = define_problem(
    "contacts-dnc-entry-not-found",
    "Do-not-call entry not found",
    404,
    "No do-not-call entry of your organization has this id.",
)
INVALID_DNC_VALUE = define_problem(
    "contacts-invalid-dnc-value",
    "Invalid do-not-call number or prefix",
    422,
    "The number is not a valid phone number (read with the organization's default country "
    "when it has no country code), or the prefix is not `+` followed by 1 to 15 digits; "
    "`reason` says which.",
)
DNC_FILE_TOO_LARGE = define_problem(
    "contacts-dnc-file-too-large",
    "Do-not-call file too large",
    413,
    "The uploaded file is larger than the platform accepts (`limit_bytes`); it was refused "
    "without being read to the end. Split it into several files.",
)
DNC_FILE_UNREADABLE = define_problem(
    "contacts-dnc-file-unreadable",
    "Do-not-call file unreadable",
    422,
    "The upload is not a multipart form with a `file` part, or the file has no column of "
    "numbers (`number`, `phone`, `phone_number`, `telephone`, `mobile`...) and is not one "
    "number per line.",
)
CONTACT_NOT_FOUND = define_problem(
    "contacts-consent-contact-not-found",
    "Contact not found",
    404,
    "No contact of your organization has this id (or it was erased).",
)
NUMBER_NOT_OF_CONTACT = define_problem(
    "contacts-number-not-of-contact",
    "Number is not the contact's",
    422,
    "A consent about one number of a contact must name one of the contact's numbers; leave "
    "`number` out for a consent about all of them.",
)
INVALID_CONSENT = define_problem(
    "contacts-invalid-consent",
    "Invalid consent record",
    422,
    "The purpose is not one of the organization's purposes (`GET /api/v1/contacts/"
    "compliance-settings`), `all` was used for a grant (consent is given for one purpose "
    "and channel; `all` only revokes), or `occurred_at` is in the future; `reason` says which.",
)
