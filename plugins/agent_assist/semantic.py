"""Semantic search over the articles' embeddings, compared in the application (no pgvector:
the vectors are float32 bytes in ``agent_assist_article_embeddings``).

The query is embedded by the gateway (task ``assist.search``, one call); only vectors of the
model that answered are compared (cosine similarity). A query the gateway cannot embed, or
embeds only after passing over a failing provider, gives no semantic ranking: the search is
full text.

**Per-worker cache.** Each worker keeps, per tenant (the least recently used tenants leave
first, within ``CACHE_BYTES``), the unit vectors of one model with the *fingerprint* they
were read at: the count and the greatest ``generation`` of that model's rows. Every search
reads the fingerprint again (one small aggregate) and reloads when it differs: a write
raises the greatest generation (``embeddings.next_generation``, which never reuses one), a
deletion lowers the count. So a worker never compares with vectors other than those in the
database, whichever worker wrote them.
"""

from __future__ import annotations

import array
import asyncio
import heapq
import logging
import math
import operator
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, current_tenant_id
from plugins.agent_assist import embeddings
from plugins.agent_assist.models import Article, ArticleEmbedding
from plugins.ai import NoEmbeddingsError, embed

logger = logging.getLogger("kraliki.agent_assist")

MIN_SIMILARITY = 0.2
"""Below it an article is not counted as found (embeddings make every text somewhat similar
to every other)."""
CACHE_BYTES = 64 * 1024 * 1024
THREAD_ABOVE = 256
"""Vectors compared in a thread above this many (the event loop stays free meanwhile)."""
RRF_K = 60


@dataclass(frozen=True, slots=True)
class _Vectors:
    model: embeddings.Model
    fingerprint: tuple[int, int]
    ids: list[uuid.UUID]
    vectors: list[array.array[float]]
    """Unit vectors."""

    @property
    def size(self) -> int:
        return len(self.ids) * (self.model[2] * 4 + 100)


class _Cache:
    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.entries: OrderedDict[uuid.UUID, _Vectors] = OrderedDict()

    def get(self, tenant: uuid.UUID) -> _Vectors | None:
        found = self.entries.get(tenant)
        if found is not None:
            self.entries.move_to_end(tenant)
        return found

    def put(self, tenant: uuid.UUID, vectors: _Vectors) -> None:
        self.entries.pop(tenant, None)
        if vectors.size > self.budget:
            return
        self.entries[tenant] = vectors
        while sum(v.size for v in self.entries.values()) > self.budget:
            self.entries.popitem(last=False)

    def clear(self) -> None:
        self.entries.clear()


CACHE = _Cache(CACHE_BYTES)


def unit(vector: Sequence[float]) -> array.array[float]:
    values = array.array("f", vector)
    norm = math.sqrt(sum(v * v for v in values))
    if norm and math.isfinite(norm):
        values = array.array("f", (v / norm for v in values))
    return values


async def _vectors(session: AsyncSession, model: embeddings.Model) -> _Vectors:
    """The tenant's vectors of ``model``: from this worker's cache while the database has
    the same ones."""
    provider, name, dimensions = model
    of_model = (
        ArticleEmbedding.provider == provider,
        ArticleEmbedding.model == name,
        ArticleEmbedding.dimensions == dimensions,
    )
    count, greatest = (
        await session.execute(
            select(
                func.count(ArticleEmbedding.article_id), func.max(ArticleEmbedding.generation)
            ).where(*of_model)
        )
    ).one()
    fingerprint = (int(count), int(greatest or 0))
    tenant = current_tenant_id()
    assert tenant is not None
    cached = CACHE.get(tenant)
    if cached is not None and (cached.model, cached.fingerprint) == (model, fingerprint):
        return cached
    rows = await session.execute(
        select(ArticleEmbedding.article_id, ArticleEmbedding.vector).where(*of_model)
    )
    ids, vectors = [], []
    for article_id, data in rows:
        ids.append(article_id)
        vectors.append(unit(embeddings.unpack(data)))
    loaded = _Vectors(model, fingerprint, ids, vectors)
    CACHE.put(tenant, loaded)
    return loaded


def _nearest(
    held: _Vectors, query: array.array[float], depth: int
) -> list[tuple[uuid.UUID, float]]:
    scored = (
        (sum(map(operator.mul, query, vector)), article_id)
        for article_id, vector in zip(held.ids, held.vectors, strict=True)
    )
    best = heapq.nlargest(depth, (pair for pair in scored if pair[0] >= MIN_SIMILARITY))
    return [(article_id, similarity) for similarity, article_id in best]


@dataclass(frozen=True, slots=True)
class Ranking:
    """The semantic side of a search."""

    found: list[tuple[uuid.UUID, float]] | None
    """Article ids by similarity, best first; None: the tenant has no vectors of the model
    that embedded the query (full text only)."""
    short: bool
    """Some articles have no vector of that model yet (the job should run)."""


async def rank(
    platform: Platform, session: AsyncSession, text: str, *, depth: int
) -> Ranking | None:
    """The articles nearest to ``text``; None when the query could not be embedded (no
    provider with embeddings, or one failing)."""
    try:
        embedded = await embed(
            platform,
            plugin=embeddings.PLUGIN,
            task=embeddings.TASK,
            texts=[text[: embeddings.EMBED_CHARS]],
        )
    except NoEmbeddingsError:
        return None
    except Exception:  # the search still works: full text
        logger.warning("agent_assist: the query was not embedded", exc_info=True)
        return None
    if embeddings.transient(embedded.fallbacks) or not embedded.vectors:
        return None
    model = embeddings.model_of(embedded)
    held = await _vectors(session, model)
    articles = await session.scalar(select(func.count(Article.id))) or 0
    short = len(held.ids) < articles
    if not held.ids:
        return Ranking(None, short)
    query = unit(embedded.vectors[0])
    if len(held.ids) > THREAD_ABOVE:
        found = await asyncio.to_thread(_nearest, held, query, depth)
    else:
        found = _nearest(held, query, depth)
    return Ranking(found, short)


def fuse(*rankings: Sequence[uuid.UUID], k: int = RRF_K) -> list[tuple[uuid.UUID, float]]:
    """Reciprocal rank fusion: each id scores the sum of ``1 / (k + rank)`` over the rankings
    it is in (rank 1 first), best first."""
    scores: dict[uuid.UUID, float] = {}
    for ranking in rankings:
        for position, article_id in enumerate(ranking, start=1):
            scores[article_id] = scores.get(article_id, 0.0) + 1.0 / (k + position)
    return sorted(scores.items(), key=lambda pair: (-pair[1], str(pair[0])))
