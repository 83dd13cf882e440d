"""Sentiment of transcript segments and of calls

Revision ID: sentiment_0001
Revises:
Create Date: 2026-12-07 11:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kernel import UTCDateTime, enable_tenant_rls

revision: str = "sentiment_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("sentiment",)
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
        "sentiment_segments",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("call_id", sa.Uuid(), nullable=False),
        sa.Column("segment_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("speaker", sa.String(length=16), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("label", sa.String(length=16), nullable=False),
        sa.Column("offset_seconds", sa.Float(), nullable=True),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        _tenant_fk("sentiment_segments"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_sentiment_segments")),
        sa.UniqueConstraint("tenant_id", "segment_id", name="uq_sentiment_segments_segment"),
    )
    with op.batch_alter_table("sentiment_segments") as batch:
        batch.create_index("ix_sentiment_segments_call", ["tenant_id", "call_id", "at"])
    enable_tenant_rls("sentiment_segments")

    op.create_table(
        "sentiment_calls",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("call_id", sa.Uuid(), nullable=False),
        sa.Column("overall_score", sa.Float(), nullable=False),
        sa.Column("overall_label", sa.String(length=16), nullable=False),
        sa.Column("customer_score", sa.Float(), nullable=True),
        sa.Column("customer_label", sa.String(length=16), nullable=True),
        sa.Column("agent_score", sa.Float(), nullable=True),
        sa.Column("agent_label", sa.String(length=16), nullable=True),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("customer_segments", sa.Integer(), nullable=False),
        sa.Column("agent_segments", sa.Integer(), nullable=False),
        sa.Column("positive", sa.Integer(), nullable=False),
        sa.Column("neutral", sa.Integer(), nullable=False),
        sa.Column("negative", sa.Integer(), nullable=False),
        sa.Column("trend", sa.String(length=16), nullable=False),
        sa.Column("latest_score", sa.Float(), nullable=True),
        sa.Column("latest_label", sa.String(length=16), nullable=True),
        sa.Column("latest_speaker", sa.String(length=16), nullable=True),
        sa.Column("first_at", UTCDateTime(), nullable=True),
        sa.Column("last_at", UTCDateTime(), nullable=True),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("queue_id", sa.Uuid(), nullable=True),
        sa.Column("campaign_id", sa.Uuid(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        _tenant_fk("sentiment_calls"),
        sa.PrimaryKeyConstraint("tenant_id", "call_id", name=op.f("pk_sentiment_calls")),
    )
    with op.batch_alter_table("sentiment_calls") as batch:
        batch.create_index("ix_sentiment_calls_first", ["tenant_id", "first_at"])
        batch.create_index("ix_sentiment_calls_agent", ["tenant_id", "agent_id"])
        batch.create_index("ix_sentiment_calls_queue", ["tenant_id", "queue_id"])
        batch.create_index("ix_sentiment_calls_campaign", ["tenant_id", "campaign_id"])
    enable_tenant_rls("sentiment_calls")


def downgrade() -> None:
    op.drop_table("sentiment_calls")
    op.drop_table("sentiment_segments")
