"""Problem types of contact imports and exports (RFC 9457, ``/problems/<slug>``)."""

from __future__ import annotations

from kernel import define_problem

IMPORT_NOT_FOUND = define_problem(
    "contacts-import-not-found",
    "Import not found",
    404,
    "Your organization has no contact import with this id.",
)
FILE_TOO_LARGE = define_problem(
    "contacts-import-too-large",
    "File too large",
    413,
    "The file is larger than this installation accepts (`limit_bytes`); nothing of it was "
    "kept. Split it into smaller files.",
)
UNREADABLE_FILE = define_problem(
    "contacts-import-unreadable",
    "File cannot be imported",
    422,
    "The upload is not a CSV file with a header row: `detail` says why (empty, not text, no "
    "`file` part, ...). Nothing was kept.",
)
INVALID_MAPPING = define_problem(
    "contacts-import-invalid-mapping",
    "Invalid column mapping",
    422,
    "The column mapping or the import's options cannot be used: `errors` lists each as "
    "`field` (the column or option) and `reason`.",
)
IMPORT_STATE = define_problem(
    "contacts-import-state",
    "Import cannot do that now",
    409,
    "The import is not in a state that allows this (`import_status` says which): only an uploaded "
    "import or a finished dry run can start, a finished one cannot be cancelled, and a "
    "queued or running one cannot be deleted (cancel it first).",
)
MAPPING_NOT_FOUND = define_problem(
    "contacts-import-mapping-not-found",
    "Saved mapping not found",
    404,
    "Your organization has no saved column mapping with this id.",
)
MAPPING_EXISTS = define_problem(
    "contacts-import-mapping-exists",
    "Saved mapping exists",
    409,
    "Your organization already has a saved column mapping with this name.",
)
SEGMENT_NOT_FOUND = define_problem(
    "contacts-export-segment-not-found",
    "Segment not found",
    404,
    "Your organization has no segment with this id (or segments are not available).",
)
