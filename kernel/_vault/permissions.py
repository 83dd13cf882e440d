"""Permissions of the vault (kernel-declared; owners hold every tenant permission)."""

from __future__ import annotations

from kernel._types import Permission

KEY_ADMINS = ("admin",)
SECRET_KEEPERS = ("admin", "integrator")

SECRETS_READ = Permission(
    "vault.secrets",
    "read",
    "List the organization's stored provider keys (names, fingerprints, dates; never values).",
    SECRET_KEEPERS,
)
SECRETS_WRITE = Permission(
    "vault.secrets",
    "write",
    "Store, replace and delete provider keys (values are write-only).",
    SECRET_KEEPERS,
)
SECRETS_VALIDATE = Permission(
    "vault.secrets",
    "validate",
    "Ask a plugin to test a stored key against its provider.",
    SECRET_KEEPERS,
)
KEYS_MANAGE = Permission(
    "vault.keys",
    "manage",
    "See the organization's data keys and rotate them (re-encrypting every secret).",
    KEY_ADMINS,
)
AUDIT_READ = Permission(
    "vault.audit",
    "read",
    "Read the log of every decryption of the organization's keys.",
    KEY_ADMINS,
)

VAULT_PERMISSIONS = (SECRETS_READ, SECRETS_WRITE, SECRETS_VALIDATE, KEYS_MANAGE, AUDIT_READ)
