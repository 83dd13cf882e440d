"""Campaigns, their static contact lists, the tenants' calling-window rules, the
campaigns' contacts and their attempts

Revision ID: campaigns_0001
Revises:
Create Date: 2026-12-06 22:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kernel import UTCDateTime, enable_tenant_rls

revision: str = "campaigns_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("campaigns",)
depends_on: str | Sequence[str] | None = ("kernel_0008",)


def upgrade() -> None:
    op.create_table(
        "campaigns_campaigns",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("source_kind", sa.String(length=16), nullable=False),
        sa.Column("segment_id", sa.Uuid(), nullable=True),
        sa.Column("queue_id", sa.Uuid(), nullable=True),
        sa.Column("team_id", sa.Uuid(), nullable=True),
        sa.Column("flow_id", sa.Uuid(), nullable=True),
        sa.Column("caller_id", sa.String(length=32), nullable=False),
        sa.Column("consent_purpose", sa.String(length=64), nullable=False),
        sa.Column("schedule", sa.JSON(), nullable=False),
        sa.Column("retry", sa.JSON(), nullable=False),
        sa.Column("frequency_caps", sa.JSON(), nullable=False),
        sa.Column("amd", sa.JSON(), nullable=False),
        sa.Column("dispositions", sa.JSON(), nullable=False),
        sa.Column("max_abandon_rate", sa.Float(), nullable=False),
        sa.Column("abandon_message", sa.JSON(), nullable=True),
        sa.Column("ring_seconds", sa.Integer(), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("activated_at", UTCDateTime(), nullable=True),
        sa.Column("state_changed_at", UTCDateTime(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_campaigns_campaigns_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_campaigns_campaigns")),
        sa.UniqueConstraint(
            "tenant_id", "name", name=op.f("uq_campaigns_campaigns_tenant_id_name")
        ),
    )
    with op.batch_alter_table("campaigns_campaigns", schema=None) as batch_op:
        batch_op.create_index("ix_campaigns_campaigns_state", ["tenant_id", "state"], unique=False)
    enable_tenant_rls("campaigns_campaigns")
    op.create_table(
        "campaigns_list_entries",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "campaign_id"],
            ["campaigns_campaigns.tenant_id", "campaigns_campaigns.id"],
            name=op.f("fk_campaigns_list_entries_tenant_id_campaign_id_campaigns_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_campaigns_list_entries_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "campaign_id", "contact_id", name=op.f("pk_campaigns_list_entries")
        ),
    )
    with op.batch_alter_table("campaigns_list_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_campaigns_list_entries_contact", ["tenant_id", "contact_id"], unique=False
        )
    enable_tenant_rls("campaigns_list_entries")
    op.create_table(
        "campaigns_settings",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("window_rules", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_campaigns_settings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_campaigns_settings")),
    )
    enable_tenant_rls("campaigns_settings")
    op.create_table(
        "campaigns_contacts",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("last_outcome", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "campaign_id"],
            ["campaigns_campaigns.tenant_id", "campaigns_campaigns.id"],
            name=op.f("fk_campaigns_contacts_tenant_id_campaign_id_campaigns_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_campaigns_contacts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "campaign_id", "contact_id", name=op.f("pk_campaigns_contacts")
        ),
    )
    with op.batch_alter_table("campaigns_contacts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_campaigns_contacts_due",
            ["tenant_id", "campaign_id", "status", "next_attempt_at", "position"],
            unique=False,
        )
    enable_tenant_rls("campaigns_contacts")
    op.create_table(
        "campaigns_attempts",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=True),
        sa.Column("attempt_no", sa.Integer(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=False),
        sa.Column("decision", sa.JSON(), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("call_id", sa.Uuid(), nullable=True),
        sa.Column("placed_at", UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("answered_by", sa.String(length=16), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "campaign_id"],
            ["campaigns_campaigns.tenant_id", "campaigns_campaigns.id"],
            name=op.f("fk_campaigns_attempts_tenant_id_campaign_id_campaigns_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_campaigns_attempts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_campaigns_attempts")),
    )
    live = sa.text("status IN ('dialing', 'placed')")
    with op.batch_alter_table("campaigns_attempts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_campaigns_attempts_campaign", ["tenant_id", "campaign_id", "decided_at"]
        )
        batch_op.create_index(
            "ix_campaigns_attempts_contact", ["tenant_id", "contact_id", "decided_at"]
        )
        batch_op.create_index("ix_campaigns_attempts_call", ["tenant_id", "call_id"])
        batch_op.create_index(
            "uq_campaigns_attempts_live",
            ["tenant_id", "campaign_id", "contact_id"],
            unique=True,
            postgresql_where=live,
            sqlite_where=live,
        )
    enable_tenant_rls("campaigns_attempts")


def downgrade() -> None:
    op.drop_table("campaigns_attempts")
    op.drop_table("campaigns_contacts")
    op.drop_table("campaigns_settings")
    op.drop_table("campaigns_list_entries")
    op.drop_table("campaigns_campaigns")
