"""Agents, teams, reason codes, presence history and handled calls

Revision ID: agents_0001
Revises:
Create Date: 2026-12-06 07:10:00.788855
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kernel import UTCDateTime, enable_tenant_rls

revision: str = "agents_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("agents",)
depends_on: str | Sequence[str] | None = "kernel_0008"


def upgrade() -> None:
    op.create_table(
        "agents_agents",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("reach_kind", sa.String(length=16), nullable=False),
        sa.Column("reach_address", sa.String(length=256), nullable=False),
        sa.Column("loopback_script", sa.JSON(), nullable=True),
        sa.Column("auto_accept", sa.Boolean(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("max_concurrent_calls", sa.Integer(), nullable=False),
        sa.Column("wrap_up_seconds", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason_code", sa.String(length=32), nullable=True),
        sa.Column("state_since", UTCDateTime(), nullable=False),
        sa.Column("idle_since", UTCDateTime(), nullable=True),
        sa.Column("last_offered_at", UTCDateTime(), nullable=True),
        sa.Column("current_call_id", sa.Uuid(), nullable=True),
        sa.Column("wrap_up_until", UTCDateTime(), nullable=True),
        sa.Column("state_version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_agents_agents_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_agents_agents")),
        sa.UniqueConstraint(
            "tenant_id", "user_id", name=op.f("uq_agents_agents_tenant_id_user_id")
        ),
    )
    enable_tenant_rls("agents_agents")
    with op.batch_alter_table("agents_agents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_agents_agents_state", ["tenant_id", "state", "idle_since"], unique=False
        )

    op.create_table(
        "agents_reason_codes",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_agents_reason_codes_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_agents_reason_codes")),
        sa.UniqueConstraint(
            "tenant_id", "code", name=op.f("uq_agents_reason_codes_tenant_id_code")
        ),
    )
    enable_tenant_rls("agents_reason_codes")
    op.create_table(
        "agents_settings",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("default_wrap_up_seconds", sa.Integer(), nullable=False),
        sa.Column("offer_timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_agents_settings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_agents_settings")),
    )
    enable_tenant_rls("agents_settings")
    op.create_table(
        "agents_teams",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_agents_teams_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_agents_teams")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_agents_teams_tenant_id_name")),
    )
    enable_tenant_rls("agents_teams")
    op.create_table(
        "agents_agent_skills",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("skill", sa.String(length=64), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "agent_id"],
            ["agents_agents.tenant_id", "agents_agents.id"],
            name=op.f("fk_agents_agent_skills_tenant_id_agent_id_agents_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_agents_agent_skills_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_agents_agent_skills")),
        sa.UniqueConstraint(
            "tenant_id",
            "agent_id",
            "skill",
            name=op.f("uq_agents_agent_skills_tenant_id_agent_id_skill"),
        ),
    )
    enable_tenant_rls("agents_agent_skills")
    with op.batch_alter_table("agents_agent_skills", schema=None) as batch_op:
        batch_op.create_index(
            "ix_agents_agent_skills_skill", ["tenant_id", "skill", "level"], unique=False
        )

    op.create_table(
        "agents_handled_calls",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("call_id", sa.Uuid(), nullable=False),
        sa.Column("queue_id", sa.Uuid(), nullable=True),
        sa.Column("answered_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("wrap_up_ended_at", UTCDateTime(), nullable=True),
        sa.Column("talk_seconds", sa.Float(), nullable=True),
        sa.Column("wrap_up_seconds", sa.Float(), nullable=True),
        sa.Column("disposition", sa.String(length=64), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "agent_id"],
            ["agents_agents.tenant_id", "agents_agents.id"],
            name=op.f("fk_agents_handled_calls_tenant_id_agent_id_agents_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_agents_handled_calls_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_agents_handled_calls")),
        sa.UniqueConstraint(
            "tenant_id",
            "agent_id",
            "call_id",
            name=op.f("uq_agents_handled_calls_tenant_id_agent_id_call_id"),
        ),
    )
    enable_tenant_rls("agents_handled_calls")
    with op.batch_alter_table("agents_handled_calls", schema=None) as batch_op:
        batch_op.create_index(
            "ix_agents_handled_calls_agent", ["tenant_id", "agent_id", "answered_at"], unique=False
        )

    op.create_table(
        "agents_state_changes",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=False),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("reason_code", sa.String(length=32), nullable=True),
        sa.Column("cause", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=True),
        sa.Column("call_id", sa.Uuid(), nullable=True),
        sa.Column("queue_id", sa.Uuid(), nullable=True),
        sa.Column("seconds_in_previous", sa.Float(), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "agent_id"],
            ["agents_agents.tenant_id", "agents_agents.id"],
            name=op.f("fk_agents_state_changes_tenant_id_agent_id_agents_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_agents_state_changes_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_agents_state_changes")),
    )
    enable_tenant_rls("agents_state_changes")
    with op.batch_alter_table("agents_state_changes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_agents_state_changes_agent", ["tenant_id", "agent_id", "occurred_at"], unique=False
        )

    op.create_table(
        "agents_team_members",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "agent_id"],
            ["agents_agents.tenant_id", "agents_agents.id"],
            name=op.f("fk_agents_team_members_tenant_id_agent_id_agents_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "team_id"],
            ["agents_teams.tenant_id", "agents_teams.id"],
            name=op.f("fk_agents_team_members_tenant_id_team_id_agents_teams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_agents_team_members_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_agents_team_members")),
        sa.UniqueConstraint(
            "tenant_id",
            "team_id",
            "agent_id",
            name=op.f("uq_agents_team_members_tenant_id_team_id_agent_id"),
        ),
    )
    enable_tenant_rls("agents_team_members")
    with op.batch_alter_table("agents_team_members", schema=None) as batch_op:
        batch_op.create_index(
            "ix_agents_team_members_agent", ["tenant_id", "agent_id"], unique=False
        )

    op.create_table(
        "agents_team_supervisors",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "team_id"],
            ["agents_teams.tenant_id", "agents_teams.id"],
            name=op.f("fk_agents_team_supervisors_tenant_id_team_id_agents_teams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_agents_team_supervisors_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_agents_team_supervisors")),
        sa.UniqueConstraint(
            "tenant_id",
            "team_id",
            "user_id",
            name=op.f("uq_agents_team_supervisors_tenant_id_team_id_user_id"),
        ),
    )
    enable_tenant_rls("agents_team_supervisors")
    with op.batch_alter_table("agents_team_supervisors", schema=None) as batch_op:
        batch_op.create_index(
            "ix_agents_team_supervisors_user", ["tenant_id", "user_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("agents_team_supervisors", schema=None) as batch_op:
        batch_op.drop_index("ix_agents_team_supervisors_user")

    op.drop_table("agents_team_supervisors")
    with op.batch_alter_table("agents_team_members", schema=None) as batch_op:
        batch_op.drop_index("ix_agents_team_members_agent")

    op.drop_table("agents_team_members")
    with op.batch_alter_table("agents_state_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_agents_state_changes_agent")

    op.drop_table("agents_state_changes")
    with op.batch_alter_table("agents_handled_calls", schema=None) as batch_op:
        batch_op.drop_index("ix_agents_handled_calls_agent")

    op.drop_table("agents_handled_calls")
    with op.batch_alter_table("agents_agent_skills", schema=None) as batch_op:
        batch_op.drop_index("ix_agents_agent_skills_skill")

    op.drop_table("agents_agent_skills")
    op.drop_table("agents_teams")
    op.drop_table("agents_settings")
    op.drop_table("agents_reason_codes")
    with op.batch_alter_table("agents_agents", schema=None) as batch_op:
        batch_op.drop_index("ix_agents_agents_state")

    op.drop_table("agents_agents")
