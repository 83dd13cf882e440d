"""Tenant settings: timezone, locale and default country of each organization.

Revision ID: tenants_0001
Revises:
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kernel import UTCDateTime, enable_tenant_rls

revision: str = "tenants_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("tenants",)
depends_on: str | Sequence[str] | None = "kernel_0003"


def upgrade() -> None:
    op.create_table(
        "tenant_settings",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("locale", sa.String(length=35), nullable=False),
        sa.Column("default_country", sa.String(length=2), nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tenant_settings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_tenant_settings")),
    )
    enable_tenant_rls("tenant_settings")


def downgrade() -> None:
    op.drop_table("tenant_settings")
