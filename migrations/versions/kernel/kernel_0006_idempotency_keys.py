"""Idempotency keys of side-effecting requests

Revision ID: kernel_0006
Revises: kernel_0005
Create Date: 2026-11-29 00:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kernel import UTCDateTime, enable_tenant_rls

revision: str = "kernel_0006"
down_revision: str | Sequence[str] | None = "kernel_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kernel_idempotency_keys",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("scope", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("claim_token", sa.Uuid(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.JSON(), nullable=True),
        sa.Column("response_headers", sa.JSON(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "state IN ('in-progress', 'completed')",
            name=op.f("ck_kernel_idempotency_keys_state_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_kernel_idempotency_keys_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "scope", "key", name=op.f("pk_kernel_idempotency_keys")
        ),
    )
    op.create_index(
        "ix_kernel_idempotency_keys_tenant_id_expires_at",
        "kernel_idempotency_keys",
        ["tenant_id", "expires_at"],
    )
    enable_tenant_rls("kernel_idempotency_keys")


def downgrade() -> None:
    op.drop_index(
        "ix_kernel_idempotency_keys_tenant_id_expires_at", table_name="kernel_idempotency_keys"
    )
    op.drop_table("kernel_idempotency_keys")
