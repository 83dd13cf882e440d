"""Searching the knowledge base: PostgreSQL's full-text search where the database is
PostgreSQL (the migration's GIN index on the same expression), plain ``LIKE`` on terms with
a simple score on SQLite. One function chooses by dialect; callers never know which ran.

``every_term``: the search box's meaning (all words must appear; on PostgreSQL
``websearch_to_tsquery`` also takes ``"quoted phrases"``, ``or`` and ``-word``). Without
it any term may match (what live suggestions ask with a customer's sentence).

With the ``platform``, a tenant that has embeddings of the model its query is embedded with
(``semantic.py``) gets the full-text ranking and the semantic one merged by reciprocal rank
fusion; the scores are then the fused ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import ColumnElement, and_, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from kernel import Platform
from plugins.agent_assist import semantic
from plugins.agent_assist.models import SEARCH_CONFIG, Article, search_vector

MAX_TERMS = 12
CANDIDATES = 200
"""SQLite: rows scored in Python at most."""
FUSED_DEPTH = 20
"""Each ranking contributes at least this many articles to the fusion."""
_STOP = """a an and are as at be but by can could do does did for from had has have hello hi
how i i'm im is it it's its me my no not of on or our please so than that the their them
then there these they this to too us was we were what when where which who why will
with would yes you your yeah okay ok just want like get got need"""
STOP_WORDS = frozenset(_STOP.split())
WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)


def terms_of(text: str) -> list[str]:
    """The words worth searching for: lower case, no stop words, no repeats, at most 12."""
    seen: list[str] = []
    for word in WORD.findall(text.lower()):
        if len(word) < 2 or word in STOP_WORDS or word in seen:
            continue
        seen.append(word)
    return seen[:MAX_TERMS]


Engine = Literal[
    "postgresql-full-text", "plain", "postgresql-full-text+embeddings", "plain+embeddings"
]


@dataclass(frozen=True, slots=True)
class Found:
    hits: list[tuple[Article, float]]
    """Best first, with their score."""
    engine: Engine
    """``postgresql-full-text`` or ``plain``, with ``+embeddings`` when the semantic ranking
    was merged in."""
    short_of_vectors: bool = False
    """The query was embedded but some articles have no vector of that model yet."""


async def search(
    session: AsyncSession,
    text: str,
    *,
    limit: int = 10,
    every_term: bool = True,
    platform: Platform | None = None,
) -> Found:
    """Articles matching ``text``; with ``platform``, semantic ones too where the tenant has
    embeddings (in the tenant's scope)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    engine: Engine = "postgresql-full-text" if postgres else "plain"
    terms = terms_of(text)
    if not terms:
        return Found([], engine)
    depth = max(2 * limit, FUSED_DEPTH)
    ranking = None
    if platform is not None:
        ranking = await semantic.rank(platform, session, text, depth=depth)
    short = ranking is not None and ranking.short
    if ranking is None or ranking.found is None:
        return Found(await _full_text(session, text, terms, limit, every_term), engine, short)
    full = await _full_text(session, text, terms, depth, every_term)
    fused = semantic.fuse([a.id for a, _ in full], [i for i, _ in ranking.found])[:limit]
    articles = {a.id: a for a, _ in full}
    missing = [i for i, _ in fused if i not in articles]
    if missing:
        loaded = await session.scalars(select(Article).where(Article.id.in_(missing)))
        articles.update((a.id, a) for a in loaded)
    hits = [(articles[i], score) for i, score in fused if i in articles]
    fused_engine: Engine = "postgresql-full-text+embeddings" if postgres else "plain+embeddings"
    return Found(hits, fused_engine, short)


async def search_articles(
    session: AsyncSession,
    text: str,
    *,
    limit: int = 10,
    every_term: bool = True,
    platform: Platform | None = None,
) -> list[tuple[Article, float]]:
    """Articles matching ``text``, best first, with their score (higher is better; scores
    compare within one search only). With ``platform`` (in the tenant's scope), semantic
    matches too where the tenant has embeddings."""
    found = await search(session, text, limit=limit, every_term=every_term, platform=platform)
    return found.hits


async def _full_text(
    session: AsyncSession, text: str, terms: list[str], limit: int, every_term: bool
) -> list[tuple[Article, float]]:
    if session.get_bind().dialect.name == "postgresql":
        return await _postgresql(session, text, terms, limit=limit, every_term=every_term)
    return await _plain(session, terms, limit=limit, every_term=every_term)


async def _postgresql(
    session: AsyncSession, text: str, terms: list[str], *, limit: int, every_term: bool
) -> list[tuple[Article, float]]:
    # The search box's own syntax; a customer's sentence becomes "a or b or c".
    source = text if every_term else " or ".join(terms)
    query = func.websearch_to_tsquery(literal_column(f"'{SEARCH_CONFIG}'"), source)
    vector = search_vector(Article.__table__)  # the index's expression (models.py)
    rank = func.ts_rank(vector, query).label("rank")
    rows = await session.execute(
        select(Article, rank)
        .where(vector.op("@@")(query))
        .order_by(rank.desc(), Article.id)
        .limit(limit)
    )
    return [(article, float(score)) for article, score in rows.all()]


def _like(column: InstrumentedAttribute[str], term: str) -> ColumnElement[bool]:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(column).like(f"%{escaped}%", escape="\\")


async def _plain(
    session: AsyncSession, terms: list[str], *, limit: int, every_term: bool
) -> list[tuple[Article, float]]:
    matches = [or_(_like(Article.title, t), _like(Article.body, t)) for t in terms]
    condition = and_(*matches) if every_term else or_(*matches)
    found = list(
        await session.scalars(
            select(Article).where(condition).order_by(Article.updated_at.desc()).limit(CANDIDATES)
        )
    )
    scored = [(article, score(article, terms)) for article in found]
    scored.sort(key=lambda pair: (-pair[1], str(pair[0].id)))
    return scored[:limit]


def score(article: Article, terms: list[str]) -> float:
    """Each term: 1 in the title, plus 0.1 per time in the body (at most 0.5), scaled by
    the share of terms found (as ``ts_rank`` favours documents that hold more of them)."""
    title, body = article.title.lower(), article.body.lower()
    total, found = 0.0, 0
    for term in terms:
        in_title, in_body = term in title, body.count(term)
        if in_title or in_body:
            found += 1
        total += (1.0 if in_title else 0.0) + min(0.5, 0.1 * in_body)
    return round(total * found / len(terms), 4)
