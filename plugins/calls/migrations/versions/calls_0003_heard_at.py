"""When the platform last heard of a call (reconciliation of stale calls)

Revision ID: calls_0003
Revises: calls_0002
Create Date: 2026-11-23 09:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from kernel import UTCDateTime

revision: str = "calls_0003"
down_revision: str | Sequence[str] | None = "calls_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Calls already there count as heard of now: those left unended are reconciled once
    # they go stale. (Forced row-level security would hide their rows from an UPDATE here.)
    column: sa.Column[Any] = sa.Column(
        "heard_at", UTCDateTime(), server_default=sa.func.now(), nullable=False
    )
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds no column with a non-constant default: copy the table instead.
        with op.batch_alter_table("calls_calls", recreate="always") as batch:
            batch.add_column(column)
    else:
        op.add_column("calls_calls", column)


def downgrade() -> None:
    with op.batch_alter_table("calls_calls") as batch:
        batch.drop_column("heard_at")
