"""Operator settings of the contacts plugin: ``KRALIKI_CONTACTS_<FIELD>`` environment variables.

Read once per platform, in ``kraliki_configure``; tenants cannot change them.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from kernel import StateKey


class ContactsSettings(BaseSettings):
    """Every field is ``KRALIKI_CONTACTS_<NAME>`` in the environment (or ``.env``)."""

    model_config = SettingsConfigDict(
        env_prefix="KRALIKI_CONTACTS_", env_file=".env", extra="ignore", frozen=True
    )

    import_max_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=1024,
        description="Largest CSV file an import (contacts or do-not-call) accepts; a bigger "
        "upload is refused with 413 as soon as it passes the limit, without reading the rest.",
    )
    import_batch_rows: int = Field(
        default=1000,
        ge=1,
        le=50_000,
        description="Rows an import commits at a time: progress is reported, and a failure or "
        "a cancellation takes effect, at these boundaries.",
    )
    import_chunk_bytes: int = Field(
        default=1024 * 1024,
        ge=4096,
        description="Size of the pieces an uploaded file is kept in (in the database, so any "
        "worker can run the import).",
    )


CONTACTS_SETTINGS = StateKey[ContactsSettings]("contacts.settings")
