"""Permissions of the contacts plugin (tenant-scoped)."""

from __future__ import annotations

from kernel import Permission

CONTACTS_READ = Permission(
    "contacts",
    "read",
    "See contacts, their numbers, timelines and custom field definitions.",
    ("admin", "supervisor", "agent", "integrator"),
)
CONTACTS_WRITE = Permission(
    "contacts",
    "write",
    "Create, change and merge contacts.",
    ("admin", "supervisor", "agent", "integrator"),
)
CONTACTS_DELETE = Permission(
    "contacts", "delete", "Delete contacts (erasure is separate).", ("admin",)
)
CONTACTS_IMPORT = Permission(
    "contacts",
    "import",
    "Upload CSV files of contacts, run and cancel imports, keep column mappings.",
    ("admin", "supervisor", "integrator"),
)
CONTACTS_EXPORT = Permission(
    "contacts",
    "export",
    "Download contacts (all, or a segment) as CSV, and everything held about one contact.",
    ("admin", "supervisor"),
)
CONTACTS_ERASE = Permission(
    "contacts",
    "erase",
    "Erase a contact's personal data in every plugin (right to erasure).",
    ("admin",),
)
FIELDS_WRITE = Permission(
    "contacts.fields",
    "write",
    "Define the organization's custom contact fields.",
    ("admin",),
)
SETTINGS_WRITE = Permission(
    "contacts.settings",
    "write",
    "Change how contacts are read (the default country of national numbers).",
    ("admin",),
)
SEGMENTS_READ = Permission(
    "contacts.segments",
    "read",
    "See segments, their counts and members.",
    ("admin", "supervisor", "agent", "integrator"),
)
SEGMENTS_WRITE = Permission(
    "contacts.segments",
    "write",
    "Create, change and delete segments and static lists.",
    ("admin", "supervisor", "integrator"),
)
DNC_READ = Permission(
    "contacts.dnc",
    "read",
    "See the do-not-call list and check whether a number may be called.",
    ("admin", "supervisor", "agent", "integrator"),
)
DNC_WRITE = Permission(
    "contacts.dnc",
    "write",
    "Add numbers to the do-not-call list and import DNC files; remove entries.",
    ("admin", "supervisor", "agent"),
)
CONSENT_READ = Permission(
    "contacts.consent",
    "read",
    "See the consent ledger.",
    ("admin", "supervisor", "agent", "integrator"),
)
CONSENT_WRITE = Permission(
    "contacts.consent",
    "write",
    "Record consent granted or revoked (the ledger is append-only).",
    ("admin", "supervisor", "agent", "integrator"),
)

PERMISSIONS = (
    CONTACTS_READ,
    CONTACTS_WRITE,
    CONTACTS_DELETE,
    CONTACTS_IMPORT,
    CONTACTS_EXPORT,
    CONTACTS_ERASE,
    FIELDS_WRITE,
    SETTINGS_WRITE,
    SEGMENTS_READ,
    SEGMENTS_WRITE,
    DNC_READ,
    DNC_WRITE,
    CONSENT_READ,
    CONSENT_WRITE,
)
