"""Request and response bodies of the agent_assist routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from plugins.agent_assist.importing import BODY_MAX, MAX_BYTES, TAG_MAX, TAGS_MAX, TITLE_MAX
from plugins.agent_assist.models import Article, Suggestion
from plugins.agent_assist.search import Engine


def _clean_tags(tags: list[str] | None) -> list[str] | None:
    if tags is None:
        return None
    clean: list[str] = []
    for tag in (t.strip() for t in tags):
        if tag and tag not in clean:
            clean.append(tag)
    return clean


class ArticleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=TITLE_MAX)
    body: str = Field(min_length=1, max_length=BODY_MAX)
    tags: list[str] = Field(default_factory=list, max_length=TAGS_MAX)

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        if any(len(t) > TAG_MAX for t in tags):
            raise ValueError(f"a tag has at most {TAG_MAX} characters")
        return _clean_tags(tags) or []

    @field_validator("title")
    @classmethod
    def _title(cls, title: str) -> str:
        if not title.strip():
            raise ValueError("the title is empty")
        return title.strip()


class ArticlePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=TITLE_MAX)
    body: str | None = Field(default=None, min_length=1, max_length=BODY_MAX)
    tags: list[str] | None = Field(default=None, max_length=TAGS_MAX)

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str] | None) -> list[str] | None:
        if tags is not None and any(len(t) > TAG_MAX for t in tags):
            raise ValueError(f"a tag has at most {TAG_MAX} characters")
        return _clean_tags(tags)


class ArticleOut(BaseModel):
    id: uuid.UUID
    title: str
    body: str
    tags: list[str]
    source: str
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, article: Article) -> ArticleOut:
        return cls(
            id=article.id,
            title=article.title,
            body=article.body,
            tags=list(article.tags or []),
            source=article.source,
            version=article.version,
            created_at=article.created_at,
            updated_at=article.updated_at,
        )


class ArticleHit(BaseModel):
    article: ArticleOut
    score: float
    """Higher is better; compares within one search only."""


class ArticleSearchOut(BaseModel):
    items: list[ArticleHit]
    engine: Engine = Field(
        description="How it searched: the database's full-text search, with `+embeddings` "
        "when the articles nearest in meaning were merged in."
    )


class ArticleImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["markdown", "csv"]
    content: str = Field(min_length=1, max_length=MAX_BYTES)


class ArticleImportOut(BaseModel):
    imported: int
    items: list[ArticleOut]


class SuggestedArticle(BaseModel):
    id: uuid.UUID
    title: str
    score: float


class AssistSuggestionOut(BaseModel):
    id: uuid.UUID
    call_id: uuid.UUID
    agent_id: uuid.UUID
    said: str
    """What the customer said (the window searched with)."""
    articles: list[SuggestedArticle]
    reply: str
    provider: str
    model: str
    created_at: datetime

    @classmethod
    def of(cls, row: Suggestion) -> AssistSuggestionOut:
        return cls(
            id=row.id,
            call_id=row.call_id,
            agent_id=row.agent_id,
            said=row.segment_text,
            articles=[SuggestedArticle.model_validate(a) for a in row.articles or []],
            reply=row.reply,
            provider=row.provider,
            model=row.model,
            created_at=row.created_at,
        )


class AssistFeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    article_id: uuid.UUID | None = None
    """One of the suggestion's articles; none: the suggestion as a whole."""
    useful: bool | None = None
    used: bool = False


class AssistFeedbackOut(BaseModel):
    id: uuid.UUID
    suggestion_id: uuid.UUID
    article_id: uuid.UUID | None
    useful: bool | None
    used: bool
    given_by: str
    created_at: datetime


def jsonable_articles(items: list[tuple[Any, float]]) -> list[dict[str, Any]]:
    return [{"id": str(a.id), "title": a.title, "score": round(s, 4)} for a, s in items]
