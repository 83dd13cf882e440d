"""A handler target long enough for a flow id and a node (``<flow id>@<node id>``); a
destination long enough for a SIP URI

Revision ID: calls_0004
Revises: calls_0003
Create Date: 2026-12-06 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "calls_0004"
down_revision: str | Sequence[str] | None = "calls_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("calls_calls") as batch:
        batch.alter_column(
            "handler_target",
            existing_type=sa.String(length=64),
            type_=sa.String(length=128),
            existing_nullable=True,
        )
        batch.alter_column(
            "to_number",
            existing_type=sa.String(length=32),
            type_=sa.String(length=255),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("calls_calls") as batch:
        batch.alter_column(
            "to_number",
            existing_type=sa.String(length=255),
            type_=sa.String(length=32),
            existing_nullable=False,
        )
        batch.alter_column(
            "handler_target",
            existing_type=sa.String(length=128),
            type_=sa.String(length=64),
            existing_nullable=True,
        )
