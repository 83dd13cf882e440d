"""The articles' embeddings, made in the background by the job ``agent_assist.embed`` (task
``assist.search`` of the gateway), never in the request that writes an article.

* An article written, changed or imported wakes the job (:func:`wake`, in the writer's
  transaction); so does a search whose query was embedded with a model the tenant's articles
  lack vectors of (:func:`ask_for_vectors`, at most once a minute per tenant and worker): a
  tenant that routes ``assist.search`` to a provider with embeddings gets them without writing.
* The job (:func:`run`) embeds, ``BATCH`` texts per gateway call, every article that has no
  vector, whose text changed (its ``version`` moved and the hash of its text differs) or
  whose vector is of another model than the one the gateway answers with now (the tenant
  changed provider or model: everything is embedded again). Each batch is written in its own
  transaction. When nothing looks stale it asks for one vector to learn which model answers
  (the tenant may have changed it).
* A tenant without a provider with embeddings (offline, Anthropic) gets nothing: the job
  ends at once. A provider failing (after the gateway's retries; a breaker open; the budget
  spent) leaves everything as it is and the job is retried later, with a growing delay.
"""

from __future__ import annotations

import array
import hashlib
import logging
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import JobTopic, Platform, current_tenant_id, utcnow
from plugins.agent_assist.models import Article, ArticleEmbedding
from plugins.ai import AiTask, ChatRequest, Embeddings, Fallback, NoEmbeddingsError, embed

logger = logging.getLogger("kraliki.agent_assist")

PLUGIN = "agent_assist"
TASK = "assist.search"
TOPIC = "agent_assist.embed"
BATCH = 64
"""Texts per gateway call."""
EMBED_CHARS = 4000
"""Of an article's title and body (and of a query): well within the models' input limits,
and 64 of them within OpenAI's per-request limit whatever the language."""
RUN_BUDGET_SECONDS = 60.0
"""Well within the job's lease: one run per tenant at a time."""
RETRY_SECONDS = 60.0
RETRY_MAX_SECONDS = 3600.0
ASK_EVERY_SECONDS = 60.0
TRANSIENT = frozenset({"failed", "breaker_open", "budget_exhausted"})
"""Why a provider may be passed over for a while: not a choice of the tenant's."""

Model = tuple[str, str, int]
"""(provider, model, dimensions) of a vector."""


async def _offline(request: ChatRequest) -> str:
    return ""  # the task is asked for embeddings only; offline has none


TASKS = [
    AiTask(
        TASK,
        "Embeddings of the knowledge base's articles and of searches, for semantic search "
        "(agent_assist); used only with a provider that has embeddings.",
        _offline,
    )
]


def text_of(title: str, body: str) -> str:
    """What is embedded of an article."""
    return f"{title.strip()}\n\n{body.strip()}"[:EMBED_CHARS]


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def pack(vector: Sequence[float]) -> bytes:
    values = array.array("f", vector)
    if sys.byteorder != "little":
        values.byteswap()
    return values.tobytes()


def unpack(data: bytes) -> array.array[float]:
    values = array.array("f")
    values.frombytes(data)
    if sys.byteorder != "little":
        values.byteswap()
    return values


def transient(fallbacks: Sequence[Fallback]) -> bool:
    """Whether a provider was passed over for a failure (rather than the tenant's choice:
    no key, no embeddings)."""
    return any(f.reason in TRANSIENT for f in fallbacks)


def model_of(embeddings: Embeddings) -> Model:
    return embeddings.provider, embeddings.model, len(embeddings.vectors[0])


# -- waking the job ------------------------------------------------------------------------

_asked: dict[uuid.UUID, float] = {}


async def wake(platform: Platform, session: AsyncSession) -> None:
    """Make the tenant's job due now, in the caller's transaction (it commits)."""
    await platform.jobs.wake(session, TOPIC)


async def ask_for_vectors(platform: Platform, session: AsyncSession) -> bool:
    """A search found the tenant's articles short of vectors of the model that embedded its
    query: wake the job (True: the caller commits), unless this worker did so for the tenant
    in the last minute."""
    tenant = current_tenant_id()
    now = time.monotonic()
    if tenant is None or now - _asked.get(tenant, -ASK_EVERY_SECONDS) < ASK_EVERY_SECONDS:
        return False
    if len(_asked) > 10_000:
        _asked.clear()
    _asked[tenant] = now
    await wake(platform, session)
    return True


# -- the job -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _State:
    article_id: uuid.UUID
    version: int
    row_version: int | None
    """The article's version its vector was checked at (None: no vector)."""
    model: Model | None
    text_hash: str | None


@dataclass(frozen=True, slots=True)
class _Text:
    article_id: uuid.UUID
    version: int
    text: str
    text_hash: str


class _ProviderTrouble(Exception):
    def __init__(self, fallbacks: Sequence[Fallback]) -> None:
        super().__init__(", ".join(f"{f.provider}: {f.reason} {f.detail}" for f in fallbacks))


async def _states(platform: Platform) -> list[_State]:
    joined = and_(
        ArticleEmbedding.tenant_id == Article.tenant_id,
        ArticleEmbedding.article_id == Article.id,
    )
    async with platform.database.session() as session:
        rows = await session.execute(
            select(
                Article.id,
                Article.version,
                ArticleEmbedding.article_version,
                ArticleEmbedding.provider,
                ArticleEmbedding.model,
                ArticleEmbedding.dimensions,
                ArticleEmbedding.text_hash,
            )
            .outerjoin(ArticleEmbedding, joined)
            .order_by(Article.id)
        )
        return [
            _State(
                article_id,
                version,
                row_version,
                (provider, model, dimensions) if provider is not None else None,
                text_hash,
            )
            for article_id, version, row_version, provider, model, dimensions, text_hash in rows
        ]


async def _texts(platform: Platform, article_ids: Sequence[uuid.UUID]) -> list[_Text]:
    async with platform.database.session() as session:
        rows = await session.execute(
            select(Article.id, Article.version, Article.title, Article.body)
            .where(Article.id.in_(list(article_ids)))
            .order_by(Article.id)
        )
        texts = []
        for article_id, version, title, body in rows:
            text = text_of(title, body)
            texts.append(_Text(article_id, version, text, digest(text)))
        return texts


async def next_generation(session: AsyncSession) -> int:
    """Greater than every generation the tenant's rows have, and than those of rows already
    deleted (microseconds of the clock, unless a row has a greater one)."""
    greatest = await session.scalar(select(func.max(ArticleEmbedding.generation)))
    return max(time.time_ns() // 1000, int(greatest or 0) + 1)


async def _write(
    platform: Platform,
    model: Model,
    texts: Sequence[_Text],
    vectors: dict[uuid.UUID, list[float]],
) -> None:
    """Store the vectors (``texts`` without one: their text and model are those stored, only
    the version they were checked at moves). Articles deleted meanwhile are left out; their
    deletion waits for this transaction on PostgreSQL (``FOR KEY SHARE``)."""
    ids = [t.article_id for t in texts]
    async with platform.database.session() as session:
        present = set(
            await session.scalars(
                select(Article.id).where(Article.id.in_(ids)).with_for_update(key_share=True)
            )
        )
        rows = {
            row.article_id: row
            for row in await session.scalars(
                select(ArticleEmbedding).where(ArticleEmbedding.article_id.in_(ids))
            )
        }
        generation = await next_generation(session)
        for text in texts:
            if text.article_id not in present:
                continue
            row = rows.get(text.article_id)
            vector = vectors.get(text.article_id)
            unchanged = row is not None and (
                row.text_hash == text.text_hash
                and (row.provider, row.model, row.dimensions) == model
            )
            if vector is None or unchanged:
                if row is not None:
                    row.article_version = text.version
                continue
            if row is None:
                row = ArticleEmbedding(article_id=text.article_id)
                session.add(row)
            row.provider, row.model, row.dimensions = model
            row.vector = pack(vector)
            row.text_hash = text.text_hash
            row.article_version = text.version
            row.generation = generation
        await session.commit()


async def sync(platform: Platform) -> datetime | None:
    """Bring the tenant's vectors up to date with its articles and its model; when to run
    again (None: done). Each pass reads where the articles stand once and goes through what
    is stale a batch at a time; the next pass checks (and catches the vectors of another
    model, once the first answer told which model answers now)."""
    deadline = time.monotonic() + RUN_BUDGET_SECONDS
    model: Model | None = None
    while True:
        states = await _states(platform)
        todo = [
            s
            for s in states
            if s.row_version != s.version or (model is not None and s.model != model)
        ]
        if not todo:
            if model is not None or not states:
                return None
            todo = states[:1]  # which model answers now? The tenant may have changed it.
        for start in range(0, len(todo), BATCH):
            if time.monotonic() > deadline:
                return utcnow()  # more to do: again at once, in a new lease
            model = await _batch(platform, todo[start : start + BATCH], model)


async def _batch(platform: Platform, states: Sequence[_State], model: Model | None) -> Model | None:
    """Embed what is stale of ``states`` and store it; the model that answered (``model``
    when nothing needed a vector)."""
    known = {s.article_id: s for s in states}
    texts = await _texts(platform, list(known))
    if not texts:
        return model  # deleted meanwhile
    fresh = [t for t in texts if known[t.article_id].text_hash != t.text_hash]
    same = [t for t in texts if known[t.article_id].text_hash == t.text_hash]
    if model is not None:
        fresh += [t for t in same if known[t.article_id].model != model]
    elif not fresh:
        fresh = same[:1]  # unchanged texts, but is their vector of the model answering now?
    vectors: dict[uuid.UUID, list[float]] = {}
    if fresh:
        embedded = await embed(platform, plugin=PLUGIN, task=TASK, texts=[t.text for t in fresh])
        if transient(embedded.fallbacks):
            raise _ProviderTrouble(embedded.fallbacks)  # not the tenant's model: wait
        model = model_of(embedded)
        vectors = {t.article_id: v for t, v in zip(fresh, embedded.vectors, strict=True)}
    assert model is not None
    await _write(platform, model, texts, vectors)
    return model


_failures: dict[uuid.UUID, int] = {}


async def run(platform: Platform, tenant_id: uuid.UUID) -> datetime | None:
    """``agent_assist.embed``: the tenant's vectors brought up to date."""
    try:
        due = await sync(platform)
    except NoEmbeddingsError as exc:
        if not transient(exc.fallbacks):
            _failures.pop(tenant_id, None)
            return None  # no provider with embeddings: full-text search only
        return _later(tenant_id, exc)
    except _ProviderTrouble as exc:
        return _later(tenant_id, exc)
    _failures.pop(tenant_id, None)
    return due


def _later(tenant_id: uuid.UUID, exc: Exception) -> datetime:
    """When to try again after the provider failed (growing, per worker)."""
    failures = _failures[tenant_id] = _failures.get(tenant_id, 0) + 1
    if len(_failures) > 10_000:
        _failures.clear()
    delay = min(RETRY_SECONDS * 2 ** min(failures - 1, 16), RETRY_MAX_SECONDS)
    logger.warning("agent_assist: articles not embedded (%s); again in %.0f s", exc, delay)
    return utcnow() + timedelta(seconds=delay)


EMBED_JOB = JobTopic(
    TOPIC, run, "Embed the knowledge base's articles where the tenant's provider has embeddings."
)
