"""The BYOK key vault: envelope encryption of tenants' provider credentials
(``docs/security/vault.md``)."""
