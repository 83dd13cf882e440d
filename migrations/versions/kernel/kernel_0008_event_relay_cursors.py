"""Event relay cursors: how far each tenant's outbox was relayed to NATS JetStream

Revision ID: kernel_0008
Revises: kernel_0007
Create Date: 2026-12-06 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kernel import UTCDateTime, enable_tenant_rls

revision: str = "kernel_0008"
down_revision: str | Sequence[str] | None = "kernel_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "kernel_event_relay_cursors"


def upgrade() -> None:
    # Empty: a tenant's row is created by the first dispatch under the NATS transport, at
    # the position that dispatch starts from (what came before was announced by NOTIFY).
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
    enable_tenant_rls(TABLE)


def downgrade() -> None:
    op.drop_table(TABLE)
