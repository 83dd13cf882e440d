"""Queues, their members, queued calls and callbacks, and offers to agents

Revision ID: queues_0001
Revises:
Create Date: 2026-12-06 07:10:00.788855
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kernel import UTCDateTime, enable_tenant_rls

revision: str = "queues_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("queues",)
depends_on: str | Sequence[str] | None = ("kernel_0008", "agents_0001")


def upgrade() -> None:
    op.create_table(
        "queues_queues",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("strategy", sa.String(length=16), nullable=False),
        sa.Column("required_skills", sa.JSON(), nullable=False),
        sa.Column("relax_skills_after_seconds", sa.Integer(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("service_level_seconds", sa.Integer(), nullable=False),
        sa.Column("service_level_target", sa.Integer(), nullable=False),
        sa.Column("max_wait_seconds", sa.Integer(), nullable=True),
        sa.Column("max_size", sa.Integer(), nullable=True),
        sa.Column("overflow", sa.JSON(), nullable=False),
        sa.Column("greeting", sa.String(length=1000), nullable=False),
        sa.Column("announce_every_seconds", sa.Integer(), nullable=False),
        sa.Column("announce_position", sa.Boolean(), nullable=False),
        sa.Column("announce_wait", sa.Boolean(), nullable=False),
        sa.Column("music_url", sa.String(length=2048), nullable=True),
        sa.Column("callback_enabled", sa.Boolean(), nullable=False),
        sa.Column("callback_key", sa.String(length=1), nullable=False),
        sa.Column("wrap_up_seconds", sa.Integer(), nullable=True),
        sa.Column("offer_timeout_seconds", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_queues_queues_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_queues_queues")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_queues_queues_tenant_id_name")),
    )
    enable_tenant_rls("queues_queues")
    op.create_table(
        "queues_items",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("queue_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("call_id", sa.Uuid(), nullable=True),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("caller_number", sa.String(length=64), nullable=False),
        sa.Column("called_number", sa.String(length=64), nullable=False),
        sa.Column("callback_number", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("required_skills", sa.JSON(), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("return_target", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("entered_at", UTCDateTime(), nullable=False),
        sa.Column("deadline_at", UTCDateTime(), nullable=True),
        sa.Column("next_announce_at", UTCDateTime(), nullable=True),
        sa.Column("offered_at", UTCDateTime(), nullable=True),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("offers", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("wait_seconds", sa.Float(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "queue_id"],
            ["queues_queues.tenant_id", "queues_queues.id"],
            name=op.f("fk_queues_items_tenant_id_queue_id_queues_queues"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_queues_items_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_queues_items")),
    )
    enable_tenant_rls("queues_items")
    with op.batch_alter_table("queues_items", schema=None) as batch_op:
        batch_op.create_index("ix_queues_items_call", ["tenant_id", "call_id"], unique=False)
        batch_op.create_index(
            "ix_queues_items_entered", ["tenant_id", "queue_id", "entered_at"], unique=False
        )
        batch_op.create_index(
            "ix_queues_items_waiting", ["tenant_id", "queue_id", "status", "priority"], unique=False
        )

    op.create_table(
        "queues_queue_agents",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("queue_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "queue_id"],
            ["queues_queues.tenant_id", "queues_queues.id"],
            name=op.f("fk_queues_queue_agents_tenant_id_queue_id_queues_queues"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_queues_queue_agents_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_queues_queue_agents")),
        sa.UniqueConstraint(
            "tenant_id",
            "queue_id",
            "agent_id",
            name=op.f("uq_queues_queue_agents_tenant_id_queue_id_agent_id"),
        ),
    )
    enable_tenant_rls("queues_queue_agents")
    with op.batch_alter_table("queues_queue_agents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_queues_queue_agents_agent", ["tenant_id", "agent_id"], unique=False
        )

    op.create_table(
        "queues_queue_teams",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("queue_id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "queue_id"],
            ["queues_queues.tenant_id", "queues_queues.id"],
            name=op.f("fk_queues_queue_teams_tenant_id_queue_id_queues_queues"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_queues_queue_teams_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_queues_queue_teams")),
        sa.UniqueConstraint(
            "tenant_id",
            "queue_id",
            "team_id",
            name=op.f("uq_queues_queue_teams_tenant_id_queue_id_team_id"),
        ),
    )
    enable_tenant_rls("queues_queue_teams")
    with op.batch_alter_table("queues_queue_teams", schema=None) as batch_op:
        batch_op.create_index("ix_queues_queue_teams_team", ["tenant_id", "team_id"], unique=False)

    op.create_table(
        "queues_offers",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("queue_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("ring_all", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("agent_call_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "item_id"],
            ["queues_items.tenant_id", "queues_items.id"],
            name=op.f("fk_queues_offers_tenant_id_item_id_queues_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_queues_offers_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_queues_offers")),
    )
    enable_tenant_rls("queues_offers")
    with op.batch_alter_table("queues_offers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_queues_offers_agent_call", ["tenant_id", "agent_call_id"], unique=False
        )
        batch_op.create_index(
            "ix_queues_offers_expiry", ["tenant_id", "status", "expires_at"], unique=False
        )
        batch_op.create_index(
            "uq_queues_offers_live_agent",
            ["tenant_id", "agent_id"],
            unique=True,
            postgresql_where=sa.text("status IN ('pending', 'ringing', 'accepted')"),
            sqlite_where=sa.text("status IN ('pending', 'ringing', 'accepted')"),
        )
        batch_op.create_index(
            "uq_queues_offers_live_item",
            ["tenant_id", "item_id"],
            unique=True,
            postgresql_where=sa.text(
                "status IN ('pending', 'ringing', 'accepted') AND NOT ring_all"
            ),
            sqlite_where=sa.text("status IN ('pending', 'ringing', 'accepted') AND NOT ring_all"),
        )


def downgrade() -> None:
    with op.batch_alter_table("queues_offers", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_queues_offers_live_item",
            postgresql_where=sa.text(
                "status IN ('pending', 'ringing', 'accepted') AND NOT ring_all"
            ),
            sqlite_where=sa.text("status IN ('pending', 'ringing', 'accepted') AND NOT ring_all"),
        )
        batch_op.drop_index(
            "uq_queues_offers_live_agent",
            postgresql_where=sa.text("status IN ('pending', 'ringing', 'accepted')"),
            sqlite_where=sa.text("status IN ('pending', 'ringing', 'accepted')"),
        )
        batch_op.drop_index("ix_queues_offers_expiry")
        batch_op.drop_index("ix_queues_offers_agent_call")

    op.drop_table("queues_offers")
    with op.batch_alter_table("queues_queue_teams", schema=None) as batch_op:
        batch_op.drop_index("ix_queues_queue_teams_team")

    op.drop_table("queues_queue_teams")
    with op.batch_alter_table("queues_queue_agents", schema=None) as batch_op:
        batch_op.drop_index("ix_queues_queue_agents_agent")

    op.drop_table("queues_queue_agents")
    with op.batch_alter_table("queues_items", schema=None) as batch_op:
        batch_op.drop_index("ix_queues_items_waiting")
        batch_op.drop_index("ix_queues_items_entered")
        batch_op.drop_index("ix_queues_items_call")

    op.drop_table("queues_items")
    op.drop_table("queues_queues")
