"""Problem types of contacts themselves (RFC 9457, ``/problems/<slug>``). Each area of the
plugin (imports, segments, compliance, privacy) keeps its own in ``<area>/problems.py``."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from kernel import define_problem

CONTACT_NOT_FOUND = define_problem(
    "contacts-contact-not-found",
    "Contact not found",
    404,
    "No contact of your organization has this id.",
)
INVALID_CONTACT = define_problem(
    "contacts-invalid-contact",
    "Invalid contact",
    422,
    "Some of the contact's values cannot be accepted; `errors` lists each as `field` and "
    "`reason` (a number that is not valid in its numbering plan, an unknown custom field, a "
    "choice that is not one of the field's choices, ...).",
)
CONTACT_CHANGED = define_problem(
    "contacts-contact-changed",
    "Contact changed",
    412,
    "The contact changed since you read it (`If-Match` names an older version); read it "
    "again, apply your change to what it is now, and send it with the new `ETag`.",
)
CONTACT_MERGED = define_problem(
    "contacts-contact-merged",
    "Contact merged",
    409,
    "The contact was merged into another one (`merged_into`); change that one instead.",
)
CONTACT_ERASED = define_problem(
    "contacts-contact-erased",
    "Contact erased",
    409,
    "The contact's personal data was erased; it can no longer be changed or merged.",
)
MERGE_REFUSED = define_problem(
    "contacts-merge-refused",
    "Merge refused",
    422,
    "These two contacts cannot be merged: `detail` says why (the same contact twice, or one "
    "of them already merged or erased).",
)
FIELD_NOT_FOUND = define_problem(
    "contacts-field-not-found",
    "Custom field not found",
    404,
    "Your organization has no custom contact field with this key.",
)
FIELD_EXISTS = define_problem(
    "contacts-field-exists",
    "Custom field exists",
    409,
    "Your organization already has a custom contact field with this key.",
)
FIELD_TYPE_FIXED = define_problem(
    "contacts-field-type-change",
    "Field type cannot change",
    409,
    "A custom field's type cannot change once defined (stored values would no longer fit): "
    "define a new field instead.",
)
INVALID_NUMBER = define_problem(
    "contacts-invalid-number",
    "Invalid phone number",
    422,
    "The number is not a valid phone number (national numbers are read with the "
    "organization's default country); `reason` says why.",
)


def located(errors: Sequence[Mapping[str, Any]], where: str = "body") -> list[dict[str, Any]]:
    """Errors of a 422 in the shape every 422 of the API has (``loc`` and ``message``, as in
    ``/problems/validation-error``), keeping the plugin's own members (``field``,
    ``reason``): clients read every 422 one way. ``phones[1].number`` becomes
    ``["body", "phones", 1, "number"]``."""
    out = []
    for error in errors:
        path: list[str | int] = [where]
        for part in re.findall(r"[^.\[\]]+", str(error.get("field", ""))):
            path.append(int(part) if part.isascii() and part.isdigit() else part)
        message = error.get("reason") or error.get("message") or ""
        out.append({"loc": path, "message": message, **error})
    return out
