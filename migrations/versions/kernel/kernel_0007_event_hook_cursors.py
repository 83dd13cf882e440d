"""Event hook cursors: plugin hooks run at their own pace behind the real-time stream

Revision ID: kernel_0007
Revises: kernel_0006
Create Date: 2026-12-05 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kernel import UTCDateTime, enable_tenant_rls

revision: str = "kernel_0007"
down_revision: str | Sequence[str] | None = "kernel_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "kernel_event_hook_cursors"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f(f"fk_{TABLE}_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f(f"pk_{TABLE}")),
    )
    # Until now hooks ran in the dispatch itself: whatever was dispatched had its hooks run.
    # Copied tenant by tenant (row-level security is forced, also for the owner).
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    for (tenant,) in bind.execute(sa.text("SELECT id FROM tenants")).all():
        if postgres:
            bind.execute(
                sa.text("SELECT set_config('app.tenant_id', :tenant, true)"),
                {"tenant": str(tenant)},
            )
        bind.execute(
            sa.text(
                "INSERT INTO kernel_event_hook_cursors (tenant_id, position, updated_at) "
                "SELECT tenant_id, position, updated_at FROM kernel_event_cursors "
                "WHERE tenant_id = :tenant"
            ),
            {"tenant": tenant},
        )
    if postgres:
        bind.execute(sa.text("SELECT set_config('app.tenant_id', '', true)"))
    enable_tenant_rls(TABLE)


def downgrade() -> None:
    op.drop_table(TABLE)
