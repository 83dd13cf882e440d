"""The agent_assist plugin's tables: the knowledge base, the articles' embeddings (where the
tenant's provider has them), the suggestions made on live calls and the feedback agents gave
on them.

Tenant-owned. On PostgreSQL the migration adds a GIN index on the articles' text search
vector; the model gains it (:func:`add_search_index`) only on a PostgreSQL platform, so the
models match the migrations on both databases. SQLite searches with ``LIKE``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ColumnElement,
    FromClause,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    Uuid,
    func,
    literal_column,
)
from sqlalchemy.orm import Mapped, mapped_column

from kernel import (
    Base,
    TenantOwnedMixin,
    TimestampMixin,
    UTCDateTime,
    UUIDPrimaryKeyMixin,
    tenant_foreign_key,
    utcnow,
)


class Article(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """One knowledge base article."""

    __tablename__ = "agent_assist_articles"
    __table_args__ = (Index("ix_agent_assist_articles_title", "tenant_id", "title"),)

    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    source: Mapped[str] = mapped_column(String(16), default="api")
    """``api``, ``markdown`` or ``csv``: how it arrived."""
    version: Mapped[int] = mapped_column(Integer, default=1)


class ArticleEmbedding(TenantOwnedMixin, TimestampMixin, Base):
    """An article's vector from the tenant's embeddings model (``embeddings.py`` writes them in
    the background; the search reads those of the model that embeds its query). One per
    article: a new model's vector replaces the old one."""

    __tablename__ = "agent_assist_article_embeddings"
    __table_args__ = (
        tenant_foreign_key(
            "article_id",
            "agent_assist_articles",
            ondelete="CASCADE",
            name="fk_agent_assist_article_embeddings_article",
        ),
        Index(
            "ix_agent_assist_article_embeddings_model",
            "tenant_id",
            "provider",
            "model",
            "dimensions",
            "generation",
        ),
    )

    article_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(100))
    dimensions: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    """``dimensions`` float32 numbers, little-endian."""
    text_hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 (hex) of the text embedded: an edit that leaves it alone is not re-embedded."""
    article_version: Mapped[int] = mapped_column(Integer)
    """The article's ``version`` when its text was read: another one means it may have
    changed (checked by ``text_hash``)."""
    generation: Mapped[int] = mapped_column(BigInteger)
    """Grows with every write of the tenant's embeddings (``embeddings.next_generation``): the
    count and the greatest generation of a model's rows tell a worker whether the vectors it
    holds in memory are still those in the database."""


class Suggestion(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    """Articles and a suggested reply made for the agent on a call, from one segment of
    what the customer said."""

    __tablename__ = "agent_assist_suggestions"
    __table_args__ = (
        Index("ix_agent_assist_suggestions_call", "tenant_id", "call_id", "created_at"),
        Index("uq_agent_assist_suggestions_event", "tenant_id", "event_id", unique=True),
    )

    call_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    """The customer's call (no foreign key: a suggestion outlives nothing it names)."""
    agent_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    """The ``calls.call.transcribed`` event it answers (delivery is at least once)."""
    segment_text: Mapped[str] = mapped_column(Text)
    """What the customer said (the window searched with)."""
    articles: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """``[{"id", "title", "score"}]``, best first."""
    reply: Mapped[str] = mapped_column(Text, default="")
    provider: Mapped[str] = mapped_column(String(32), default="")
    model: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Feedback(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    """What an agent said of a suggestion (or one of its articles)."""

    __tablename__ = "agent_assist_feedback"
    __table_args__ = (
        tenant_foreign_key(
            "suggestion_id",
            "agent_assist_suggestions",
            ondelete="CASCADE",
            name="fk_agent_assist_feedback_suggestion",
        ),
        Index("ix_agent_assist_feedback_article", "tenant_id", "article_id"),
        Index("ix_agent_assist_feedback_suggestion", "tenant_id", "suggestion_id"),
    )

    suggestion_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    article_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    """The article judged; None: the suggestion as a whole (counted for its first article)."""
    useful: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    used: Mapped[bool] = mapped_column(Boolean, default=False)
    given_by: Mapped[str] = mapped_column(String(255))
    """The principal's subject."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


SEARCH_INDEX = "ix_agent_assist_articles_fts"
SEARCH_CONFIG = "simple"
"""Language-neutral (organizations speak many languages): no stemming."""


def search_vector(table: FromClause) -> ColumnElement[Any]:
    """The articles' text search vector, title weighted ``A``, body ``B``: the index's
    expression and the search's, written with constants only so PostgreSQL matches them."""

    def part(column: ColumnElement[Any], weight: str) -> ColumnElement[Any]:
        vector = func.to_tsvector(
            literal_column(f"'{SEARCH_CONFIG}'"), func.coalesce(column, literal_column("''"))
        )
        return func.setweight(vector, literal_column(f"'{weight}'"))

    return part(table.c.title, "A").op("||")(part(table.c.body, "B"))


def add_search_index() -> None:
    """Declare the GIN index the PostgreSQL migration made (once; PostgreSQL platforms only:
    SQLite has no such index)."""
    table = Article.__table__
    assert isinstance(table, Table)
    if not any(index.name == SEARCH_INDEX for index in table.indexes):
        Index(SEARCH_INDEX, search_vector(table), postgresql_using="gin", _table=table)


MODELS: list[type] = [Article, ArticleEmbedding, Suggestion, Feedback]
