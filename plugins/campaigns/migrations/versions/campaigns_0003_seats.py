"""Seats: agents working a progressive or predictive campaign, their leg kept up in the
seat's conference between calls; the campaign's last pacing mode

Revision ID: campaigns_0003
Revises: campaigns_0002
Create Date: 2026-12-07 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kernel import UTCDateTime, enable_tenant_rls

revision: str = "campaigns_0003"
down_revision: str | Sequence[str] | None = "campaigns_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns_campaigns") as batch:
        batch.add_column(sa.Column("pacing_mode", sa.String(length=16), nullable=True))
    op.create_table(
        "campaigns_seats",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("call_id", sa.Uuid(), nullable=True),
        sa.Column("attempt_id", sa.Uuid(), nullable=True),
        sa.Column("joined_at", UTCDateTime(), nullable=False),
        sa.Column("ready_since", UTCDateTime(), nullable=True),
        sa.Column("wrap_up_until", UTCDateTime(), nullable=True),
        sa.Column("calls_taken", sa.Integer(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("end_reason", sa.String(length=64), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "campaign_id"],
            ["campaigns_campaigns.tenant_id", "campaigns_campaigns.id"],
            name=op.f("fk_campaigns_seats_tenant_id_campaign_id_campaigns_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_campaigns_seats_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_campaigns_seats")),
    )
    live = sa.text("status <> 'ended'")
    with op.batch_alter_table("campaigns_seats") as batch:
        batch.create_index(
            "ix_campaigns_seats_ready", ["tenant_id", "campaign_id", "status", "ready_since"]
        )
        batch.create_index("ix_campaigns_seats_call", ["tenant_id", "call_id"])
        batch.create_index(
            "uq_campaigns_seats_live_agent",
            ["tenant_id", "agent_id"],
            unique=True,
            postgresql_where=live,
            sqlite_where=live,
        )
    enable_tenant_rls("campaigns_seats")


def downgrade() -> None:
    op.drop_table("campaigns_seats")
    with op.batch_alter_table("campaigns_campaigns") as batch:
        batch.drop_column("pacing_mode")
