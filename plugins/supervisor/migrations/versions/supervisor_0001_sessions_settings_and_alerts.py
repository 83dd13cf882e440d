"""Supervision sessions, the organization's supervision settings, alert rules and alerts

Revision ID: supervisor_0001
Revises:
Create Date: 2026-12-07 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kernel import UTCDateTime, enable_tenant_rls

revision: str = "supervisor_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("supervisor",)
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
        "supervisor_sessions",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("supervisor_user_id", sa.Uuid(), nullable=True),
        sa.Column("supervisor", sa.String(length=255), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("conference", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("agent_call_id", sa.Uuid(), nullable=False),
        sa.Column("customer_call_id", sa.Uuid(), nullable=True),
        sa.Column("supervisor_call_id", sa.Uuid(), nullable=True),
        sa.Column("reach", sa.String(length=256), nullable=False),
        sa.Column("announced", sa.Boolean(), nullable=False),
        sa.Column("mode_changes", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("connected_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("end_reason", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        _tenant_fk("supervisor_sessions"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_supervisor_sessions")),
    )
    live = sa.text("status <> 'ended'")
    with op.batch_alter_table("supervisor_sessions") as batch:
        batch.create_index("ix_supervisor_sessions_started", ["tenant_id", "started_at"])
        batch.create_index("ix_supervisor_sessions_call", ["tenant_id", "supervisor_call_id"])
        batch.create_index("ix_supervisor_sessions_agent", ["tenant_id", "agent_id", "status"])
        batch.create_index(
            "uq_supervisor_sessions_live_user",
            ["tenant_id", "supervisor_user_id"],
            unique=True,
            postgresql_where=live,
            sqlite_where=live,
        )
    enable_tenant_rls("supervisor_sessions")

    op.create_table(
        "supervisor_settings",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("announce_to_agent", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        _tenant_fk("supervisor_settings"),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_supervisor_settings")),
    )
    enable_tenant_rls("supervisor_settings")

    op.create_table(
        "supervisor_alert_rules",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("subject_id", sa.Uuid(), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        _tenant_fk("supervisor_alert_rules"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_supervisor_alert_rules")),
    )
    with op.batch_alter_table("supervisor_alert_rules") as batch:
        batch.create_index("ix_supervisor_alert_rules_kind", ["tenant_id", "kind"])
    enable_tenant_rls("supervisor_alert_rules")

    op.create_table(
        "supervisor_alerts",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("rule_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("subject_type", sa.String(length=16), nullable=False),
        sa.Column("subject_key", sa.String(length=128), nullable=False),
        sa.Column("subject_name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("raised_at", UTCDateTime(), nullable=False),
        sa.Column("cleared_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "rule_id"],
            ["supervisor_alert_rules.tenant_id", "supervisor_alert_rules.id"],
            name=op.f("fk_supervisor_alerts_tenant_id_rule_id_supervisor_alert_rules"),
            ondelete="CASCADE",
        ),
        _tenant_fk("supervisor_alerts"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_supervisor_alerts")),
    )
    raised = sa.text("status = 'raised'")
    with op.batch_alter_table("supervisor_alerts") as batch:
        batch.create_index("ix_supervisor_alerts_raised_at", ["tenant_id", "raised_at"])
        batch.create_index(
            "uq_supervisor_alerts_live",
            ["tenant_id", "rule_id", "subject_key"],
            unique=True,
            postgresql_where=raised,
            sqlite_where=raised,
        )
    enable_tenant_rls("supervisor_alerts")


def downgrade() -> None:
    for table in (
        "supervisor_alerts",
        "supervisor_alert_rules",
        "supervisor_settings",
        "supervisor_sessions",
    ):
        op.drop_table(table)
