"""Reconciliations of the ledger with the processor, and the differences they found

Revision ID: payments_0002
Revises: payments_0001
Create Date: 2026-12-07 19:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kernel import UTCDateTime, enable_tenant_rls

revision: str = "payments_0002"
down_revision: str | Sequence[str] | None = "payments_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    table = "payments_reconciliations"
    op.create_table(
        table,
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("processor", sa.String(length=64), nullable=False),
        sa.Column("period_start", UTCDateTime(), nullable=False),
        sa.Column("period_end", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=255), nullable=True),
        sa.Column("ledger_payments", sa.BigInteger(), nullable=False),
        sa.Column("processor_payments", sa.BigInteger(), nullable=False),
        sa.Column("matched", sa.BigInteger(), nullable=False),
        sa.Column("differences", sa.BigInteger(), nullable=False),
        sa.Column("corrected", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        _tenant_fk(table),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f(f"pk_{table}")),
    )
    with op.batch_alter_table(table) as batch:
        batch.create_index("ix_payments_reconciliations_listing", ["tenant_id", "created_at", "id"])
    enable_tenant_rls(table)

    table = "payments_reconciliation_differences"
    op.create_table(
        table,
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("reconciliation_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=True),
        sa.Column("processor_payment_id", sa.String(length=255), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("ledger_status", sa.String(length=24), nullable=True),
        sa.Column("processor_status", sa.String(length=24), nullable=True),
        sa.Column("ledger_amount", sa.BigInteger(), nullable=True),
        sa.Column("processor_amount", sa.BigInteger(), nullable=True),
        sa.Column("ledger_refunded", sa.BigInteger(), nullable=True),
        sa.Column("processor_refunded", sa.BigInteger(), nullable=True),
        sa.Column("corrected", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        _tenant_fk(table),
        sa.ForeignKeyConstraint(
            ["tenant_id", "reconciliation_id"],
            ["payments_reconciliations.tenant_id", "payments_reconciliations.id"],
            name=op.f(f"fk_{table}_tenant_id_payments_reconciliations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f(f"pk_{table}")),
    )
    with op.batch_alter_table(table) as batch:
        batch.create_index(
            "ix_payments_reconciliation_differences_run", ["tenant_id", "reconciliation_id"]
        )
    enable_tenant_rls(table)


def downgrade() -> None:
    op.drop_table("payments_reconciliation_differences")
    op.drop_table("payments_reconciliations")
