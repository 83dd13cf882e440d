"""Blocked numbers.

Revision ID: acme_blocklist_0001
Revises:
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kernel import UTCDateTime, enable_tenant_rls

revision: str = "acme_blocklist_0001"
down_revision: str | Sequence[str] | None = None
# The first revision of a plugin opens its own branch, labelled with the plugin's name, and
# depends on the kernel revision it needs.
branch_labels: str | Sequence[str] | None = ("acme_blocklist",)
depends_on: str | Sequence[str] | None = ("kernel_0002",)


def upgrade() -> None:
    op.create_table(
        "acme_blocklist_numbers",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            ondelete="CASCADE",
            name=op.f("fk_acme_blocklist_numbers_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_acme_blocklist_numbers")),
        sa.UniqueConstraint(
            "tenant_id", "number", name=op.f("uq_acme_blocklist_numbers_tenant_id_number")
        ),
    )
    enable_tenant_rls("acme_blocklist_numbers")


def downgrade() -> None:
    op.drop_table("acme_blocklist_numbers")
