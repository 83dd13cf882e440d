"""The knowledge base, suggestions on live calls and the feedback on them

Revision ID: agent_assist_0001
Revises:
Create Date: 2026-12-07 11:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kernel import UTCDateTime, enable_tenant_rls

revision: str = "agent_assist_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("agent_assist",)
depends_on: str | Sequence[str] | None = ("kernel_0008",)

FTS_INDEX = "ix_agent_assist_articles_fts"
FTS_VECTOR = (
    "setweight(to_tsvector('simple', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('simple', coalesce(body, '')), 'B')"
)
"""The search's vector: ``search_vector`` in ``plugins/agent_assist/models.py``, which the
search queries and the model declares on PostgreSQL (the models-match test compares them), so
PostgreSQL uses the index."""


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "agent_assist_articles",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        _tenant_fk("agent_assist_articles"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_agent_assist_articles")),
    )
    with op.batch_alter_table("agent_assist_articles") as batch:
        batch.create_index("ix_agent_assist_articles_title", ["tenant_id", "title"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX {FTS_INDEX} ON agent_assist_articles USING gin (({FTS_VECTOR}))")
    enable_tenant_rls("agent_assist_articles")

    op.create_table(
        "agent_assist_suggestions",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("call_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("segment_text", sa.Text(), nullable=False),
        sa.Column("articles", sa.JSON(), nullable=False),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        _tenant_fk("agent_assist_suggestions"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_agent_assist_suggestions")),
    )
    with op.batch_alter_table("agent_assist_suggestions") as batch:
        batch.create_index(
            "ix_agent_assist_suggestions_call", ["tenant_id", "call_id", "created_at"]
        )
        batch.create_index(
            "uq_agent_assist_suggestions_event", ["tenant_id", "event_id"], unique=True
        )
    enable_tenant_rls("agent_assist_suggestions")

    op.create_table(
        "agent_assist_feedback",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("suggestion_id", sa.Uuid(), nullable=False),
        sa.Column("article_id", sa.Uuid(), nullable=True),
        sa.Column("useful", sa.Boolean(), nullable=True),
        sa.Column("used", sa.Boolean(), nullable=False),
        sa.Column("given_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "suggestion_id"],
            ["agent_assist_suggestions.tenant_id", "agent_assist_suggestions.id"],
            name="fk_agent_assist_feedback_suggestion",
            ondelete="CASCADE",
        ),
        _tenant_fk("agent_assist_feedback"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_agent_assist_feedback")),
    )
    with op.batch_alter_table("agent_assist_feedback") as batch:
        batch.create_index("ix_agent_assist_feedback_article", ["tenant_id", "article_id"])
        batch.create_index("ix_agent_assist_feedback_suggestion", ["tenant_id", "suggestion_id"])
    enable_tenant_rls("agent_assist_feedback")


def downgrade() -> None:
    for table in ("agent_assist_feedback", "agent_assist_suggestions", "agent_assist_articles"):
        op.drop_table(table)
