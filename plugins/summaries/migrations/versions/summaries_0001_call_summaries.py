"""Call summaries (one per call) and their job's bookkeeping

Revision ID: summaries_0001
Revises:
Create Date: 2026-12-07 11:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kernel import UTCDateTime, enable_tenant_rls

revision: str = "summaries_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("summaries",)
depends_on: str | Sequence[str] | None = ("kernel_0008",)

TABLE = "summaries_call_summaries"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("call_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("attempt_started_at", UTCDateTime(), nullable=True),
        sa.Column("attempt_token", sa.Uuid(), nullable=True),
        sa.Column("skip_reason", sa.String(length=32), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("suggested_disposition", sa.String(length=64), nullable=True),
        sa.Column("follow_ups", sa.JSON(), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=True),
        sa.Column("model", sa.String(length=128), nullable=True),
        sa.Column("fell_back", sa.Boolean(), nullable=False),
        sa.Column("summarized_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f(f"fk_{TABLE}_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f(f"pk_{TABLE}")),
        sa.UniqueConstraint("tenant_id", "call_id", name=op.f(f"uq_{TABLE}_tenant_id_call_id")),
    )
    with op.batch_alter_table(TABLE) as batch:
        batch.create_index(
            "ix_summaries_call_summaries_due", ["tenant_id", "status", "next_attempt_at"]
        )
        batch.create_index("ix_summaries_call_summaries_listing", ["tenant_id", "created_at", "id"])
    enable_tenant_rls(TABLE)


def downgrade() -> None:
    op.drop_table(TABLE)
