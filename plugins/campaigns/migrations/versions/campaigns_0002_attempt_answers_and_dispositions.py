"""What happened after an attempt's call was answered: when, by whom (machine or person),
the agent connected and when, whether it was abandoned and when the safe-harbour message
started, what was done for a machine, the agent's disposition; agent-owned callbacks

Revision ID: campaigns_0002
Revises: campaigns_0001
Create Date: 2026-12-07 00:40:00.000000
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from kernel import UTCDateTime

revision: str = "campaigns_0002"
down_revision: str | Sequence[str] | None = "campaigns_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns_attempts") as batch:
        batch.add_column(sa.Column("answered_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("agent_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("connected_at", UTCDateTime(), nullable=True))
        batch.add_column(
            sa.Column("abandoned", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("safe_harbour_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("amd_action", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("disposition", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("note", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("disposed_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("disposed_by", sa.Uuid(), nullable=True))
        batch.create_index(
            "ix_campaigns_attempts_answered", ["tenant_id", "campaign_id", "answered_at"]
        )
        batch.create_index("ix_campaigns_attempts_agent", ["tenant_id", "agent_id", "decided_at"])
        # A previewed contact is held like one being dialled.
        batch.drop_index("uq_campaigns_attempts_live")
        _live_index(batch, "status IN ('previewing', 'dialing', 'placed')")
    with op.batch_alter_table("campaigns_contacts") as batch:
        batch.add_column(sa.Column("callback_agent_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns_contacts") as batch:
        batch.drop_column("callback_agent_id")
    with op.batch_alter_table("campaigns_attempts") as batch:
        batch.drop_index("uq_campaigns_attempts_live")
        _live_index(batch, "status IN ('dialing', 'placed')")
        batch.drop_index("ix_campaigns_attempts_agent")
        batch.drop_index("ix_campaigns_attempts_answered")
        for column in (
            "disposed_by",
            "disposed_at",
            "note",
            "disposition",
            "amd_action",
            "safe_harbour_at",
            "abandoned",
            "connected_at",
            "agent_id",
            "answered_at",
        ):
            batch.drop_column(column)


def _live_index(batch: Any, where: str) -> None:
    batch.create_index(
        "uq_campaigns_attempts_live",
        ["tenant_id", "campaign_id", "contact_id"],
        unique=True,
        postgresql_where=sa.text(where),
        sqlite_where=sa.text(where),
    )
