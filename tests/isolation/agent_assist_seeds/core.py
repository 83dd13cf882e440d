"""Seeds the agent_assist plugin's tables for the cross-tenant route walk: articles imported
through the API, an article's embedding (written through the model, as the plugin's job
writes it when the organization's provider has embeddings), a suggestion made on a call
(written through the model, as the plugin's event consumer writes it from a live
transcript) and feedback on it through the API."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from kernel import tenant_scope
from plugins.agent_assist.embeddings import digest, next_generation, pack, text_of
from plugins.agent_assist.models import ArticleEmbedding, Suggestion
from plugins.agents import Agent, AgentState
from plugins.calls import Call

BASE = "/api/v1/agent-assist"


async def seed(client: Any, tenant: Any) -> None:
    """Rows of every agent_assist table for ``tenant`` (``.headers``, ``.slug``, ``.id``)."""
    h = tenant.headers
    content = (
        f"# Refunds {tenant.slug}\nTags: billing\nA damaged item is refunded in full.\n\n"
        f"# Passwords {tenant.slug}\nSend a reset link.\n"
    )
    imported = await client.post(
        f"{BASE}/articles/import", headers=h, json={"format": "markdown", "content": content}
    )
    assert imported.status_code == 201, imported.text
    article = imported.json()["items"][0]
    platform = client._transport.app.state.platform
    with tenant_scope(tenant.id):
        async with platform.database.session() as session:
            call_id = await session.scalar(select(Call.id).limit(1))  # the walk's call
            agent = Agent(
                display_name=f"Assisted agent {tenant.slug}",
                reach_kind="loopback",
                state=AgentState.ON_CALL.value,
                current_call_id=call_id,
            )
            session.add(agent)
            await session.flush()
            assert call_id is not None
            suggestion = Suggestion(
                call_id=call_id,
                agent_id=agent.id,
                event_id=uuid.uuid4(),
                segment_text=f"my item from {tenant.slug} arrived damaged",
                articles=[{"id": article["id"], "title": article["title"], "score": 1.0}],
                reply="A damaged item is refunded in full.",
                provider="offline",
                model="offline",
            )
            session.add(suggestion)
            text = text_of(article["title"], article["body"])
            session.add(
                ArticleEmbedding(
                    article_id=uuid.UUID(article["id"]),
                    provider="openai",
                    model="text-embedding-3-small",
                    dimensions=3,
                    vector=pack([0.6, 0.8, 0.0]),
                    text_hash=digest(text),
                    article_version=article["version"],
                    generation=await next_generation(session),
                )
            )
            await session.commit()
            suggestion_id = suggestion.id
    given = await client.post(
        f"{BASE}/suggestions/{suggestion_id}/feedback",
        headers=h,
        json={"article_id": article["id"], "useful": True},
    )
    assert given.status_code == 201, given.text
