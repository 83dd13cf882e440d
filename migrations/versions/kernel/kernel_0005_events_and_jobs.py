"""Events outbox, dispatch cursors and job wake-ups

Revision ID: kernel_0005
Revises: kernel_0004
Create Date: 2026-11-22 00:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kernel import UTCDateTime, enable_tenant_rls

revision: str = "kernel_0005"
down_revision: str | Sequence[str] | None = "kernel_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_OWNED_TABLES = ("kernel_events", "kernel_event_cursors")


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(sa.schema.CreateSequence(sa.Sequence("kernel_events_seq")))
    op.create_table(
        "kernel_events",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("aggregate", sa.String(length=200), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=True),
        sa.Column("dispatched_at", UTCDateTime(), nullable=True),
        sa.Column("position", sa.BigInteger(), nullable=True),
        _tenant_fk("kernel_events"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_kernel_events")),
    )
    op.create_index(
        "ix_kernel_events_pending",
        "kernel_events",
        ["tenant_id", "seq"],
        postgresql_where=sa.text("dispatched_at IS NULL"),
        sqlite_where=sa.text("dispatched_at IS NULL"),
    )
    op.create_index(
        "ix_kernel_events_tenant_id_seq", "kernel_events", ["tenant_id", "seq"], unique=True
    )
    op.create_index(
        "ix_kernel_events_tenant_id_position",
        "kernel_events",
        ["tenant_id", "position"],
        unique=True,
    )
    op.create_index(
        "ix_kernel_events_tenant_id_dispatched_at", "kernel_events", ["tenant_id", "dispatched_at"]
    )
    op.create_table(
        "kernel_event_cursors",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        _tenant_fk("kernel_event_cursors"),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_kernel_event_cursors")),
    )
    for table in TENANT_OWNED_TABLES:
        enable_tenant_rls(table)

    op.create_table(
        "kernel_wakeups",
        sa.Column("topic", sa.String(length=63), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("leased_until", UTCDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        _tenant_fk("kernel_wakeups"),
        sa.PrimaryKeyConstraint("topic", "tenant_id", name=op.f("pk_kernel_wakeups")),
    )
    op.create_index("ix_kernel_wakeups_due_at", "kernel_wakeups", ["due_at"])


def downgrade() -> None:
    op.drop_index("ix_kernel_wakeups_due_at", table_name="kernel_wakeups")
    op.drop_table("kernel_wakeups")
    op.drop_table("kernel_event_cursors")
    op.drop_index("ix_kernel_events_tenant_id_dispatched_at", table_name="kernel_events")
    op.drop_index("ix_kernel_events_tenant_id_position", table_name="kernel_events")
    op.drop_index("ix_kernel_events_tenant_id_seq", table_name="kernel_events")
    op.drop_index("ix_kernel_events_pending", table_name="kernel_events")
    op.drop_table("kernel_events")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.schema.DropSequence(sa.Sequence("kernel_events_seq")))
