"""``/api/v1/agent-assist/articles``: the organization's knowledge base (read with
``agent_assist.articles:read``, changed with ``agent_assist.articles:write``)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response, status
from sqlalchemy import select

from kernel import (
    CursorPage,
    PageParamsDep,
    PlatformDep,
    Principal,
    ProblemError,
    SessionDep,
    if_match_allows,
    paginate,
    problem_responses,
    require,
)
from plugins.agent_assist import embeddings
from plugins.agent_assist.importing import parse
from plugins.agent_assist.models import Article
from plugins.agent_assist.permissions import ARTICLES_READ, ARTICLES_WRITE
from plugins.agent_assist.problems import ARTICLE_CHANGED, ARTICLE_NOT_FOUND, IMPORT_INVALID
from plugins.agent_assist.schemas import (
    ArticleHit,
    ArticleImportIn,
    ArticleImportOut,
    ArticleIn,
    ArticleOut,
    ArticlePatch,
    ArticleSearchOut,
)
from plugins.agent_assist.search import search as search_knowledge_base

router = APIRouter(prefix="/articles", tags=["agent_assist"])

Reader = Annotated[Principal, Depends(require(ARTICLES_READ.resource, ARTICLES_READ.action))]
Writer = Annotated[Principal, Depends(require(ARTICLES_WRITE.resource, ARTICLES_WRITE.action))]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=200,
        description="The article's version (`ETag`) the change is based on; 412 if it moved on.",
    ),
]


def _tagged(response: Response, article: Article) -> ArticleOut:
    response.headers["ETag"] = f'"{article.version}"'
    return ArticleOut.of(article)


async def _get(session: SessionDep, article_id: uuid.UUID, *, lock: bool = False) -> Article:
    statement = select(Article).where(Article.id == article_id)
    if lock:
        statement = statement.with_for_update()
    article = await session.scalar(statement)
    if article is None:
        raise ProblemError(ARTICLE_NOT_FOUND)
    return article


@router.get("", response_model=CursorPage[ArticleOut], summary="List articles")
async def list_articles(
    _: Reader,
    session: SessionDep,
    page: PageParamsDep,
) -> CursorPage[ArticleOut]:
    """By title."""
    rows, cursor = await paginate(
        session,
        select(Article),
        order_by=[Article.title, Article.id],
        params=page,
        descending=False,
    )
    return CursorPage(items=[ArticleOut.of(r) for r in rows], next_cursor=cursor)


@router.get("/search", response_model=ArticleSearchOut, summary="Search the knowledge base")
async def search(
    _: Reader,
    session: SessionDep,
    platform: PlatformDep,
    q: Annotated[str, Query(min_length=1, max_length=500, description="Words to find.")],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> ArticleSearchOut:
    """Every word must appear (stop words aside). On PostgreSQL: full-text search
    (`websearch_to_tsquery`: `"a phrase"`, `or`, `-word`), ranked by `ts_rank` with titles
    weighing more; on SQLite a plain word search with a simple score. Where the organization's
    provider for `assist.search` has embeddings, the articles nearest in meaning are merged
    in (reciprocal rank fusion; `engine` ends in `+embeddings`)."""
    found = await search_knowledge_base(session, q, limit=limit, every_term=True, platform=platform)
    if found.short_of_vectors and await embeddings.ask_for_vectors(platform, session):
        await session.commit()
    return ArticleSearchOut(
        items=[ArticleHit(article=ArticleOut.of(a), score=round(s, 4)) for a, s in found.hits],
        engine=found.engine,
    )


@router.post(
    "/import",
    response_model=ArticleImportOut,
    status_code=status.HTTP_201_CREATED,
    summary="Import articles from Markdown or CSV",
    responses=problem_responses(IMPORT_INVALID),
)
async def import_articles(
    body: ArticleImportIn, _: Writer, session: SessionDep, platform: PlatformDep
) -> ArticleImportOut:
    """Markdown: one article per `# ` heading, an optional `Tags: a, b` line under it. CSV:
    columns `title`, `body`, `tags`. All or nothing: a bad file imports nothing and the 422
    lists each problem with its `line`."""
    outcome = parse(body.format, body.content)
    if outcome.errors:
        raise ProblemError(
            IMPORT_INVALID,
            f"{len(outcome.errors)} problem(s) in the {body.format}; nothing was imported",
            errors=outcome.errors[:50],
        )
    rows = [
        Article(title=p.title, body=p.body, tags=p.tags, source=body.format, version=1)
        for p in outcome.articles
    ]
    session.add_all(rows)
    await session.flush()
    items = [ArticleOut.of(r) for r in rows]
    await embeddings.wake(platform, session)
    await session.commit()
    return ArticleImportOut(imported=len(items), items=items)


@router.post(
    "",
    response_model=ArticleOut,
    status_code=status.HTTP_201_CREATED,
    summary="Write an article",
)
async def create_article(
    body: ArticleIn, _: Writer, session: SessionDep, platform: PlatformDep, response: Response
) -> ArticleOut:
    article = Article(title=body.title, body=body.body, tags=body.tags, source="api", version=1)
    session.add(article)
    await session.flush()
    out = _tagged(response, article)
    await embeddings.wake(platform, session)
    await session.commit()
    response.headers["Location"] = f"/api/v1/agent-assist/articles/{article.id}"
    return out


@router.get(
    "/{article_id}",
    response_model=ArticleOut,
    summary="An article",
    responses=problem_responses(ARTICLE_NOT_FOUND),
)
async def get_article(
    article_id: uuid.UUID, _: Reader, session: SessionDep, response: Response
) -> ArticleOut:
    return _tagged(response, await _get(session, article_id))


@router.patch(
    "/{article_id}",
    response_model=ArticleOut,
    summary="Change an article",
    responses=problem_responses(ARTICLE_NOT_FOUND, ARTICLE_CHANGED),
)
async def update_article(
    article_id: uuid.UUID,
    body: ArticlePatch,
    _: Writer,
    session: SessionDep,
    platform: PlatformDep,
    response: Response,
    if_match: IfMatch = None,
) -> ArticleOut:
    """Only the fields sent change. Send `If-Match` with the `ETag` you read (412 if it
    changed meanwhile)."""
    article = await _get(session, article_id, lock=True)
    if not if_match_allows(if_match, article.version):
        raise ProblemError(ARTICLE_CHANGED, f"the article is at version {article.version}")
    changes = body.model_dump(include=body.model_fields_set, exclude_none=True)
    changed = {k: v for k, v in changes.items() if getattr(article, k) != v}
    if changed:
        for name, value in changed.items():
            setattr(article, name, value)
        article.version += 1
        await session.flush()
        if changed.keys() & {"title", "body"}:  # its embedding, in the background
            await embeddings.wake(platform, session)
    out = _tagged(response, article)
    await session.commit()
    return out


@router.delete(
    "/{article_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an article",
    responses=problem_responses(ARTICLE_NOT_FOUND, ARTICLE_CHANGED),
)
async def delete_article(
    article_id: uuid.UUID, _: Writer, session: SessionDep, if_match: IfMatch = None
) -> Response:
    """Suggestions already made keep its title; feedback on it stays counted for nothing."""
    article = await _get(session, article_id, lock=True)
    if not if_match_allows(if_match, article.version):
        raise ProblemError(ARTICLE_CHANGED, f"the article is at version {article.version}")
    await session.delete(article)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
