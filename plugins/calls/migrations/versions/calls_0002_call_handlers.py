"""A call's handler (the plugin driving it) and its target

Revision ID: calls_0002
Revises: calls_0001
Create Date: 2026-11-22 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "calls_0002"
down_revision: str | Sequence[str] | None = "calls_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("calls_calls") as batch:
        batch.add_column(sa.Column("handler", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("handler_target", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calls_calls") as batch:
        batch.drop_column("handler_target")
        batch.drop_column("handler")
