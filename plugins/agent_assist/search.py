"""Searching the knowledge base: PostgreSQL's full-text search where the database is
PostgreSQL (the migration's GIN index on the same expression), plain ``LIKE`` on terms with
a simple score on SQLite. One function chooses by dialect; callers never know which ran.

``every_term``: the search box's meaning (all words must appear; on PostgreSQL
``websearch_to_tsquery`` also takes ``"quoted phrases"``, ``or`` and ``-word``). Without
it any term may match (what live suggestions ask with a customer's sentence).
"""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, and_, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from plugins.agent_assist.models import SEARCH_CONFIG, Article, search_vector

MAX_TERMS = 12
CANDIDATES = 200
"""SQLite: rows scored in Python at most."""
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


async def search_articles(
    session: AsyncSession, text: str, *, limit: int = 10, every_term: bool = True
) -> list[tuple[Article, float]]:
    """Articles matching ``text``, best first, with their score (higher is better; scores
    compare within one search only)."""
    terms = terms_of(text)
    if not terms:
        return []
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
