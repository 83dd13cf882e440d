"""A waiting call moved to one agent: routing offers it to that agent only

Revision ID: queues_0002
Revises: queues_0001
Create Date: 2026-12-07 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "queues_0002"
down_revision: str | Sequence[str] | None = "queues_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # No foreign key, like ``agent_id``: a composite (tenant, agent) key cannot set only the
    # agent to NULL when the agent is deleted, and cascading would delete the call's record.
    # Routing lets the target lapse when the agent is gone.
    op.add_column("queues_items", sa.Column("target_agent_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("queues_items") as batch:
        batch.drop_column("target_agent_id")
