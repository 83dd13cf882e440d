"""Semantic search through HTTP, with the real OpenAI SDK talking to the OpenAI stand-in
(its embeddings are bags of words: texts sharing words are close). An organization that
routes ``assist.search`` to OpenAI gets its articles embedded in the background and finds
articles by meaning; one that does not (offline) searches exactly as before; a model change
re-embeds everything; a failing provider leaves the search on full text and the embedding
is retried; another organization's vectors are never used."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from assist_helpers import ARTICLES, import_kb, ok
from sqlalchemy import select, update
from test_suggestions import _agent_on_call, hear, segment, suggestions

from kernel import Platform, tenant_scope
from kernel.testing import job_due_at
from plugins.agent_assist import embeddings
from plugins.agent_assist.models import Article, ArticleEmbedding
from plugins.openai.testing import OpenAIStandIn

KB = """# Money back guarantee
Tags: billing
We refund any order within 30 days of delivery.

# Changing a delivery address
Tags: delivery
The delivery address can be changed until the parcel leaves the warehouse.

# Resetting a password
Send the customer a reset link from the account page. The link works for one hour.
"""
BY_MEANING = "refund broken order"
"""Not every word is in "Money back guarantee" (no full-text match), two of three are."""
MODEL = "text-embedding-3-small"
EMBEDDINGS = "/v1/embeddings"


@pytest.fixture(autouse=True)
async def openai(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[OpenAIStandIn]:
    """Started before the app (autouse), which reads the base URL when it is built."""
    async with OpenAIStandIn() as stand_in:
        for name, value in stand_in.environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(embeddings, "ASK_EVERY_SECONDS", 0.0)
        monkeypatch.setattr(embeddings, "RETRY_SECONDS", 0.2)
        yield stand_in


@pytest.fixture
async def kraliki_app(kraliki_make_app: Any) -> Any:
    """One attempt per outbound request: a scripted server error is one failure."""
    return await kraliki_make_app(outbound_attempts=1)


def full_text(platform: Platform) -> str:
    return "postgresql-full-text" if platform.database.dialect == "postgresql" else "plain"


async def use_openai(client: httpx.AsyncClient, headers: dict[str, str], openai: Any) -> None:
    """What an admin does: the key in the vault, ``assist.search`` routed to OpenAI."""
    stored = await client.put(
        "/api/v1/vault/secrets/openai.api_key", headers=headers, json={"value": openai.api_key}
    )
    assert stored.status_code in (200, 201), stored.text
    routes = {"assist.search": {"provider": "openai", "model": None}}
    await ok(await client.put("/api/v1/ai/settings", headers=headers, json={"routes": routes}))


async def searched(
    client: httpx.AsyncClient, headers: dict[str, str], q: str
) -> tuple[list[str], str]:
    found = await ok(await client.get(f"{ARTICLES}/search", headers=headers, params={"q": q}))
    return [item["article"]["title"] for item in found["items"]], found["engine"]


async def vectors(platform: Platform, tenant_id: uuid.UUID) -> dict[str, tuple[str, str, int]]:
    """The organization's vectors by article title: (model, text hash, dimensions)."""
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            rows = await session.execute(
                select(
                    Article.title,
                    ArticleEmbedding.model,
                    ArticleEmbedding.text_hash,
                    ArticleEmbedding.dimensions,
                ).join(Article, Article.id == ArticleEmbedding.article_id)
            )
            return {title: (model, text_hash, dims) for title, model, text_hash, dims in rows}


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 20.0) -> Any:
    """Poll an async ``check`` until it is truthy (the job runs in the background)."""
    async with asyncio.timeout(within):
        while not (result := await check()):  # noqa: ASYNC110 - polling what nothing signals
            await asyncio.sleep(0.05)
        return result


def embedded(openai: OpenAIStandIn) -> list[list[str]]:
    """The texts of each embeddings request, in order."""
    return [list(body["input"]) for body in openai.bodies(EMBEDDINGS)]


async def embedded_all(platform: Platform, tenant_id: uuid.UUID, count: int, model: str = MODEL):
    async def check() -> bool:
        found = await vectors(platform, tenant_id)
        return len(found) == count and all(m == model for m, _, _ in found.values())

    await eventually(check)


async def test_offline_searches_as_before_and_openai_finds_by_meaning(
    client, owner, platform, openai
):
    h, engine = owner.headers, full_text(platform)
    await import_kb(client, h, KB)
    await eventually(lambda: _not_due(platform, owner.tenant_id))
    # Offline: the job found no provider with embeddings; nothing left the platform.
    assert await searched(client, h, BY_MEANING) == ([], engine)
    assert await searched(client, h, "refund order") == (["Money back guarantee"], engine)
    assert await vectors(platform, owner.tenant_id) == {}
    assert openai.requests == []

    await use_openai(client, h, openai)
    # The query is embedded; the articles have none yet: full text, and the job is woken.
    assert await searched(client, h, BY_MEANING) == ([], engine)
    await embedded_all(platform, owner.tenant_id, 3)
    assert await searched(client, h, BY_MEANING) == (
        ["Money back guarantee"],
        f"{engine}+embeddings",
    )
    # Full-text matches stay, fused with the nearest in meaning.
    titles, fused = await searched(client, h, "refund order")
    assert (titles[0], fused) == ("Money back guarantee", f"{engine}+embeddings")

    # One call for the three articles (title and body each), one per query.
    [batch] = [texts for texts in embedded(openai) if len(texts) > 1]
    assert sorted(batch) == [
        "Changing a delivery address\n\nThe delivery address can be changed until the "
        "parcel leaves the warehouse.",
        "Money back guarantee\n\nWe refund any order within 30 days of delivery.",
        "Resetting a password\n\nSend the customer a reset link from the account page. "
        "The link works for one hour.",
    ]
    assert [BY_MEANING] in embedded(openai)
    assert {dims for _, _, dims in (await vectors(platform, owner.tenant_id)).values()} == {1536}


async def _not_due(platform: Platform, tenant_id: uuid.UUID) -> bool:
    return await job_due_at(platform, embeddings.TOPIC, tenant_id) is None


async def test_written_and_edited_articles_are_embedded_in_the_background(
    client, owner, platform, openai
):
    h, engine = owner.headers, full_text(platform)
    await use_openai(client, h, openai)
    body = {"title": "Lost parcels", "body": "A parcel lost in transit is sent again at no cost."}
    article = await ok(await client.post(ARTICLES, headers=h, json=body), 201)
    await embedded_all(platform, owner.tenant_id, 1)
    [(_, first_hash, _)] = (await vectors(platform, owner.tenant_id)).values()
    assert await searched(client, h, "courier claim deadline") == ([], f"{engine}+embeddings")

    changed = {"body": "Fill in the courier claim form and we send the parcel again."}
    url = f"{ARTICLES}/{article['id']}"
    await ok(await client.patch(url, headers={**h, "If-Match": '"1"'}, json=changed))

    async def re_embedded() -> bool:
        [(_, text_hash, _)] = (await vectors(platform, owner.tenant_id)).values()
        return text_hash != first_hash

    await eventually(re_embedded)
    assert ["Lost parcels\n\n" + changed["body"]] in embedded(openai)
    assert await searched(client, h, "courier claim deadline") == (
        ["Lost parcels"],
        f"{engine}+embeddings",
    )

    # Tags alone: nothing to embed again, the job is not even woken.
    asked = len(embedded(openai))
    await ok(await client.patch(url, headers={**h, "If-Match": '"2"'}, json={"tags": ["post"]}))
    assert await job_due_at(platform, embeddings.TOPIC, owner.tenant_id) is None
    assert len(embedded(openai)) == asked

    # Deleted: its vector goes with it.
    assert (await client.delete(url, headers={**h, "If-Match": '"3"'})).status_code == 204
    assert await vectors(platform, owner.tenant_id) == {}


async def test_a_new_model_re_embeds_everything(client, owner, platform, openai):
    """Vectors of another model than the one answering now are not compared with; the
    articles are embedded again with the new one."""
    h, engine = owner.headers, full_text(platform)
    await use_openai(client, h, openai)
    await import_kb(client, h, KB)
    await embedded_all(platform, owner.tenant_id, 3)
    with tenant_scope(owner.tenant_id):  # as if embedded by the organization's former model
        async with platform.database.session() as session:
            await session.execute(update(ArticleEmbedding).values(model="text-embedding-ada-002"))
            await session.commit()

    assert await searched(client, h, BY_MEANING) == ([], engine)  # the old vectors: ignored
    await embedded_all(platform, owner.tenant_id, 3)
    assert await searched(client, h, BY_MEANING) == (
        ["Money back guarantee"],
        f"{engine}+embeddings",
    )


async def test_a_failing_provider_leaves_the_search_on_full_text(client, owner, platform, openai):
    h, engine = owner.headers, full_text(platform)
    await use_openai(client, h, openai)
    openai.fail_next(1, 500)
    await import_kb(client, h, KB)
    # The job's first call failed: retried later, and then the articles are embedded.
    await embedded_all(platform, owner.tenant_id, 3)
    assert [len(texts) for texts in embedded(openai)][:2] == [3, 3]

    openai.fail_next(1, 500)  # the query's embedding fails: full text, and it says so
    assert await searched(client, h, BY_MEANING) == ([], engine)
    openai.fail_next(1, 500)
    assert await searched(client, h, "refund order") == (["Money back guarantee"], engine)
    assert await searched(client, h, BY_MEANING) == (
        ["Money back guarantee"],
        f"{engine}+embeddings",
    )


async def test_another_organizations_vectors_are_never_used(
    client, owner, platform, openai, kraliki_make_owner
):
    h, engine = owner.headers, full_text(platform)
    await use_openai(client, h, openai)
    await import_kb(client, h, KB)
    other = await kraliki_make_owner("globex")
    await use_openai(client, other.headers, openai)
    hours = {"title": "Opening hours", "body": "We are open 8 to 18 on weekdays."}
    await ok(await client.post(ARTICLES, headers=other.headers, json=hours), 201)
    await embedded_all(platform, owner.tenant_id, 3)
    await embedded_all(platform, other.tenant_id, 1)

    assert list(await vectors(platform, other.tenant_id)) == ["Opening hours"]
    assert await searched(client, other.headers, BY_MEANING) == ([], f"{engine}+embeddings")
    assert await searched(client, h, BY_MEANING) == (
        ["Money back guarantee"],
        f"{engine}+embeddings",
    )
    assert await searched(client, other.headers, "open weekdays hours") == (
        ["Opening hours"],
        f"{engine}+embeddings",
    )


async def test_live_suggestions_fuse_full_text_and_meaning(
    client, owner, platform, openai, kraliki_make_user
):
    await use_openai(client, owner.headers, openai)
    await import_kb(client, owner.headers, KB)
    await embedded_all(platform, owner.tenant_id, 3)
    ana = await _agent_on_call(client, owner, kraliki_make_user, platform, "ana")
    said = "refund my order please"
    await hear(platform, owner.tenant_id, segment(owner.tenant_id, ana.call_id, said))

    [made] = await suggestions(client, ana)
    # First in both rankings: 1/61 + 1/61, reciprocal rank fusion's score.
    assert made["articles"][0]["title"] == "Money back guarantee"
    assert made["articles"][0]["score"] == round(2 / 61, 4)
    assert [said] in embedded(openai)
