"""Refuse to serve as a PostgreSQL role that row-level security does not apply to.

Tenant isolation in the database rests on RLS, and PostgreSQL skips RLS entirely for
superusers and roles with ``BYPASSRLS``: a server connected as one would keep tenants apart
only in the application, silently. Starting is refused unless an operator says otherwise.
"""

from __future__ import annotations

import logging

from sqlalchemy import text

from kernel._db import Database
from kernel._settings import Settings

logger = logging.getLogger("kraliki.db")


class UnsafeDatabaseRoleError(RuntimeError):
    """The API's database role bypasses row-level security."""


async def check_database_role(database: Database, settings: Settings) -> None:
    """Raise :class:`UnsafeDatabaseRoleError` when the app role bypasses RLS (PostgreSQL
    only), unless ``KRALIKI_ALLOW_RLS_BYPASS`` is set, which only logs a warning."""
    if database.dialect != "postgresql":
        return
    async with database.engine.connect() as connection:
        row = (
            await connection.execute(
                text(
                    "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles "
                    "WHERE rolname = current_user"
                )
            )
        ).one()
    role, superuser, bypass = row
    if not (superuser or bypass):
        return
    why = "a superuser" if superuser else "a role with BYPASSRLS"
    message = (
        f"the database role {role!r} (KRALIKI_DATABASE_URL) is {why}: PostgreSQL row-level "
        "security, which keeps tenants' rows apart, does not apply to it"
    )
    if settings.allow_rls_bypass:
        logger.warning("%s; starting anyway because KRALIKI_ALLOW_RLS_BYPASS is set", message)
        return
    raise UnsafeDatabaseRoleError(
        f"refusing to start: {message}. Connect as the unprivileged app role "
        "(docs/operations/deployment.md), or set KRALIKI_ALLOW_RLS_BYPASS=true to start "
        "anyway (never in production)."
    )
