"""Create or drop a throwaway PostgreSQL database with the roles the platform needs.

    python .ci/postgres.py create NAME   # prints shell exports for the test run
    python .ci/postgres.py drop NAME

Roles: ``NAME_owner`` owns the database and runs migrations; ``NAME_app`` is what the API
connects as: not a superuser, owns nothing, no BYPASSRLS (so row-level security applies).
Connects as the superuser in ``KRALIKI_CI_ADMIN_URL`` (default postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import asyncio
import os
import re
import sys

import asyncpg

ADMIN_URL = os.environ.get("KRALIKI_CI_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def create(name: str) -> None:
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'CREATE ROLE "{name}_owner" LOGIN NOSUPERUSER NOBYPASSRLS')
        await admin.execute(
            f'CREATE ROLE "{name}_app" LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE'
        )
        await admin.execute(f'CREATE DATABASE "{name}" OWNER "{name}_owner"')
        await admin.execute(f'REVOKE ALL ON DATABASE "{name}" FROM PUBLIC')
        await admin.execute(f'GRANT CONNECT ON DATABASE "{name}" TO "{name}_app"')
    finally:
        await admin.close()
    host = ADMIN_URL.split("@", 1)[1].rsplit("/", 1)[0]
    print(f"export KRALIKI_TEST_DATABASE_URL=postgresql+asyncpg://{name}_app@{host}/{name}")
    print(
        f"export KRALIKI_TEST_MIGRATION_DATABASE_URL="
        f"postgresql+asyncpg://{name}_owner@{host}/{name}"
    )
    # Tests that must act as a superuser (terminating the app's connections, proving that
    # a superuser is refused) opt in through this one.
    admin_user = ADMIN_URL.split("://", 1)[1].split("@", 1)[0]
    print(f"export KRALIKI_TEST_ADMIN_DATABASE_URL=postgresql+asyncpg://{admin_user}@{host}/{name}")


async def drop(name: str) -> None:
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'DROP ROLE IF EXISTS "{name}_app"')
        await admin.execute(f'DROP ROLE IF EXISTS "{name}_owner"')
    finally:
        await admin.close()


def main() -> None:
    if len(sys.argv) != 3 or sys.argv[1] not in {"create", "drop"}:
        sys.exit(__doc__)
    action, name = sys.argv[1], sys.argv[2]
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,40}", name):
        sys.exit(f"bad database name {name!r}")
    asyncio.run(create(name) if action == "create" else drop(name))


if __name__ == "__main__":
    main()
