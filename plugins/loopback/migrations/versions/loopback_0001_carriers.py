"""The processes carrying loopback calls and their leases

Revision ID: loopback_0001
Revises:
Create Date: 2026-11-23 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kernel import UTCDateTime

revision: str = "loopback_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("loopback",)
depends_on: str | Sequence[str] | None = ("kernel_0001",)


def upgrade() -> None:
    # A platform table (no tenant data): no row-level security, like kernel_wakeups.
    op.create_table(
        "loopback_carriers",
        sa.Column("instance", sa.String(length=16), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("instance", name=op.f("pk_loopback_carriers")),
    )


def downgrade() -> None:
    op.drop_table("loopback_carriers")
