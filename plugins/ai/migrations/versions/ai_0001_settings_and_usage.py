"""The AI settings of each tenant and its metered model usage

Revision ID: ai_0001
Revises:
Create Date: 2026-12-07 11:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kernel import UTCDateTime, enable_tenant_rls

revision: str = "ai_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("ai",)
depends_on: str | Sequence[str] | None = ("kernel_0008",)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "ai_settings",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("routes", sa.JSON(), nullable=False),
        sa.Column("fallback", sa.JSON(), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("redaction", sa.Boolean(), nullable=False),
        sa.Column("redaction_patterns", sa.JSON(), nullable=False),
        sa.Column("log_prompts", sa.Boolean(), nullable=False),
        sa.Column("monthly_budget", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("budget_warning_percent", sa.Integer(), nullable=False),
        sa.Column("budget_warned_for", sa.String(length=7), nullable=True),
        sa.Column("budget_exhausted_for", sa.String(length=7), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        _tenant_fk("ai_settings"),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_ai_settings")),
    )
    enable_tenant_rls("ai_settings")

    op.create_table(
        "ai_usage",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("plugin", sa.String(length=64), nullable=False),
        sa.Column("task", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_nanos", sa.BigInteger(), nullable=False),
        sa.Column("unpriced", sa.BigInteger(), nullable=False),
        _tenant_fk("ai_usage"),
        sa.PrimaryKeyConstraint(
            "tenant_id", "day", "plugin", "task", "provider", "model", name=op.f("pk_ai_usage")
        ),
    )
    enable_tenant_rls("ai_usage")


def downgrade() -> None:
    for table in ("ai_usage", "ai_settings"):
        op.drop_table(table)
