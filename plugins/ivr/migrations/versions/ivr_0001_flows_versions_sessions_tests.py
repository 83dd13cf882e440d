"""IVR flows, versions, sessions, tests, settings

Revision ID: ivr_0001
Revises:
Create Date: 2026-11-22 06:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kernel import UTCDateTime, enable_tenant_rls

revision: str = "ivr_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("ivr",)
# The plugin's own branch; it publishes events (kernel_0005).
depends_on: str | Sequence[str] | None = ("kernel_0005",)

TABLES = ("ivr_flows", "ivr_flow_versions", "ivr_sessions", "ivr_tests", "ivr_settings")


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="CASCADE",
    )


def _flow_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", "flow_id"],
        ["ivr_flows.tenant_id", "ivr_flows.id"],
        name=f"fk_{table}_flow",
        ondelete="CASCADE",
    )


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "ivr_flows",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("draft", sa.JSON(), nullable=False),
        sa.Column("draft_revision", sa.Integer(), nullable=False),
        sa.Column("current_version_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        *_timestamps(),
        _tenant_fk("ivr_flows"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_ivr_flows")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_ivr_flows_tenant_id_name")),
    )
    with op.batch_alter_table("ivr_flows", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ivr_flows_listing", ["tenant_id", "created_at", "id"], unique=False
        )

    op.create_table(
        "ivr_flow_versions",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("flow_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=False),
        sa.Column("published_by", sa.String(length=80), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("tests", sa.JSON(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        _flow_fk("ivr_flow_versions"),
        _tenant_fk("ivr_flow_versions"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_ivr_flow_versions")),
        sa.UniqueConstraint(
            "tenant_id",
            "flow_id",
            "number",
            name=op.f("uq_ivr_flow_versions_tenant_id_flow_id_number"),
        ),
    )
    op.create_table(
        "ivr_sessions",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("call_id", sa.Uuid(), nullable=False),
        sa.Column("flow_id", sa.Uuid(), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        *_timestamps(),
        _tenant_fk("ivr_sessions"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_ivr_sessions")),
        sa.UniqueConstraint("tenant_id", "call_id", name=op.f("uq_ivr_sessions_tenant_id_call_id")),
    )
    with op.batch_alter_table("ivr_sessions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ivr_sessions_flow", ["tenant_id", "flow_id", "created_at"], unique=False
        )

    op.create_table(
        "ivr_tests",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("flow_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("script", sa.JSON(), nullable=False),
        sa.Column("expect", sa.JSON(), nullable=False),
        sa.Column("last_run_at", UTCDateTime(), nullable=True),
        sa.Column("last_passed", sa.Boolean(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        *_timestamps(),
        _flow_fk("ivr_tests"),
        _tenant_fk("ivr_tests"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_ivr_tests")),
        sa.UniqueConstraint(
            "tenant_id", "flow_id", "name", name=op.f("uq_ivr_tests_tenant_id_flow_id_name")
        ),
    )
    op.create_table(
        "ivr_settings",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("require_passing_tests", sa.Boolean(), nullable=False),
        *_timestamps(),
        _tenant_fk("ivr_settings"),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_ivr_settings")),
    )
    for table in TABLES:
        enable_tenant_rls(table)


def downgrade() -> None:
    op.drop_table("ivr_settings")
    op.drop_table("ivr_tests")
    with op.batch_alter_table("ivr_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_ivr_sessions_flow")
    op.drop_table("ivr_sessions")
    op.drop_table("ivr_flow_versions")
    with op.batch_alter_table("ivr_flows", schema=None) as batch_op:
        batch_op.drop_index("ix_ivr_flows_listing")
    op.drop_table("ivr_flows")
