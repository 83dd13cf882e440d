"""The articles' embeddings (semantic search where the tenant's provider has embeddings)

Revision ID: agent_assist_0002
Revises: agent_assist_0001
Create Date: 2026-12-14 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kernel import UTCDateTime, enable_tenant_rls

revision: str = "agent_assist_0002"
down_revision: str | Sequence[str] | None = "agent_assist_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "agent_assist_article_embeddings"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("article_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("dimensions", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("article_version", sa.Integer(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "article_id"],
            ["agent_assist_articles.tenant_id", "agent_assist_articles.id"],
            name="fk_agent_assist_article_embeddings_article",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f(f"fk_{TABLE}_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "article_id", name=op.f(f"pk_{TABLE}")),
    )
    with op.batch_alter_table(TABLE) as batch:
        batch.create_index(
            "ix_agent_assist_article_embeddings_model",
            ["tenant_id", "provider", "model", "dimensions", "generation"],
        )
    enable_tenant_rls(TABLE)


def downgrade() -> None:
    op.drop_table(TABLE)
