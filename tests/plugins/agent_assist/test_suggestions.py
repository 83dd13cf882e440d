"""Live suggestions from transcript segments, feedback and re-ranking, on a call an agent is
on. The agent is made through the API and put on a call in the database (the queues plugin
does that on a real call: ``test_suggestions_loopback.py`` runs the whole way); each segment
is handed to the plugin as the dispatcher would (``kraliki_events``) and everything else is
read and written through HTTP."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from assist_helpers import ARTICLES, import_kb, ok
from sqlalchemy import select, update

from kernel import DeliveredEvent, tenant_scope, utcnow
from kernel.testing import DEFAULT_TEST_PASSWORD, login, published_events
from plugins.agent_assist.live import LIVE
from plugins.agent_assist.models import Suggestion
from plugins.agent_assist.suggest import on_events
from plugins.agents import Agent
from plugins.calls import Call

SUGGESTIONS = "/api/v1/agent-assist"


class Desk:
    """An agent (a user with the agent role and a profile) on a call."""

    def __init__(self, headers: dict[str, str], agent_id: str, call_id: uuid.UUID) -> None:
        self.headers, self.agent_id, self.call_id = headers, agent_id, call_id


async def _agent_on_call(client, owner, kraliki_make_user, platform, name: str) -> Desk:
    email = f"{name}@acme.example.com"
    user_id = await kraliki_make_user(owner.tenant_id, email, roles=["agent"])
    agent = await ok(
        await client.post(
            "/api/v1/agents",
            headers=owner.headers,
            json={
                "user_id": str(user_id),
                "display_name": name.title(),
                "reach": {"kind": "loopback", "loopback_script": [{"answer_after": 1}]},
            },
        ),
        201,
    )
    with tenant_scope(owner.tenant_id):
        async with platform.database.session() as session:
            call = Call(
                direction="inbound",
                from_number="+14155550199",
                to_number="+14155550100",
                provider="loopback",
                status="in-progress",
            )
            session.add(call)
            await session.flush()
            call_id = call.id
            await session.execute(
                update(Agent)
                .where(Agent.id == uuid.UUID(agent["id"]))
                .values(state="on_call", current_call_id=call_id)
            )
            await session.commit()
    headers = await login(client, email, DEFAULT_TEST_PASSWORD, tenant="acme")
    return Desk(headers, agent["id"], call_id)


@pytest.fixture
def desk_for(client, owner, kraliki_make_user, platform):
    async def make(name: str) -> Desk:
        return await _agent_on_call(client, owner, kraliki_make_user, platform, name)

    return make


def segment(tenant_id: uuid.UUID, call_id: uuid.UUID, text: str, **extra: Any) -> DeliveredEvent:
    payload = {
        "call_id": str(call_id),
        "segment_id": str(uuid.uuid4()),
        "speaker": "callee",
        "text": text,
        "final": True,
        **extra,
    }
    return DeliveredEvent(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        name="calls.call.transcribed",
        version=1,
        occurred_at=utcnow(),
        aggregate=f"calls.call:{call_id}",
        payload=payload,
        position=1,
    )


async def hear(platform, tenant_id: uuid.UUID, *events: DeliveredEvent) -> None:
    """Hand the events to the hook, then wait for the suggestions it set going."""
    with tenant_scope(tenant_id):
        await on_events(platform, list(events))
    await LIVE.get(platform).idle()


async def suggestions(client, desk: Desk, headers: dict[str, str] | None = None) -> list[Any]:
    url = f"{SUGGESTIONS}/calls/{desk.call_id}/suggestions"
    result: list[Any] = await ok(await client.get(url, headers=headers or desk.headers))
    return result


async def test_a_customer_segment_becomes_articles_and_a_reply(client, owner, platform, desk_for):
    await import_kb(client, owner.headers)
    ana = await desk_for("ana")
    said = "Hello, my parcel arrived damaged and I would like a refund please"
    await hear(platform, owner.tenant_id, segment(owner.tenant_id, ana.call_id, said))

    [made] = await suggestions(client, ana)
    assert made["agent_id"] == ana.agent_id
    assert made["said"] == said
    assert made["articles"][0]["title"] == "Refunds for damaged items"
    assert made["articles"][0]["score"] > 0
    assert (made["provider"], made["model"]) == ("offline", "offline")
    # The offline reply: the article's sentences sharing most words with the customer's.
    assert made["reply"].startswith("A damaged item is refunded in full within 14 days.")
    events = [
        p
        for n, p in await published_events(platform, owner.tenant_id)
        if n.startswith("agent_assist.")
    ]
    assert events == [
        {
            "suggestion_id": made["id"],
            "call_id": str(ana.call_id),
            "agent_id": ana.agent_id,
            "article_ids": [a["id"] for a in made["articles"]],
        }
    ]


async def test_nothing_is_suggested_without_an_agent_on_the_call_or_from_the_agent(
    client, owner, platform, desk_for
):
    await import_kb(client, owner.headers)
    ana = await desk_for("ana")
    nobody = (await desk_for("nobody")).call_id
    with tenant_scope(owner.tenant_id):
        async with platform.database.session() as session:
            await session.execute(
                update(Agent).where(Agent.current_call_id == nobody).values(state="available")
            )
            await session.commit()
    await hear(
        platform,
        owner.tenant_id,
        segment(owner.tenant_id, nobody, "a refund for a damaged item"),
        segment(owner.tenant_id, ana.call_id, "a refund for a damaged item", speaker="agent"),
        segment(owner.tenant_id, ana.call_id, "a refund for a damaged item", final=False),
        segment(owner.tenant_id, ana.call_id, "the weather is nice today"),
    )
    assert await suggestions(client, ana) == []
    with tenant_scope(owner.tenant_id):
        async with platform.database.session() as session:
            assert list(await session.scalars(select(Suggestion))) == []


async def test_the_same_event_twice_and_the_same_articles_soon_after_suggest_once(
    client, owner, platform, desk_for
):
    await import_kb(client, owner.headers)
    ana = await desk_for("ana")
    first = segment(owner.tenant_id, ana.call_id, "I need a refund, the item is damaged")
    await hear(platform, owner.tenant_id, first, first)
    await hear(platform, owner.tenant_id, first)
    again = segment(owner.tenant_id, ana.call_id, "so about that refund for the damaged item")
    await hear(platform, owner.tenant_id, again)
    assert len(await suggestions(client, ana)) == 1
    # Something new on the same call: a new suggestion, without the articles already shown.
    other = segment(owner.tenant_id, ana.call_id, "also I forgot my password")
    await hear(platform, owner.tenant_id, other)
    newest, oldest = await suggestions(client, ana)
    assert [a["title"] for a in newest["articles"]] == ["Resetting a password"]
    assert oldest["articles"][0]["title"] == "Refunds for damaged items"
    # Two minutes later the refund article may come back.
    with tenant_scope(owner.tenant_id):
        async with platform.database.session() as session:
            await session.execute(
                update(Suggestion).values(created_at=utcnow() - timedelta(minutes=3))
            )
            await session.commit()
    await hear(
        platform, owner.tenant_id, segment(owner.tenant_id, ana.call_id, again.payload["text"])
    )
    assert len(await suggestions(client, ana)) == 3


async def test_feedback_re_ranks_the_next_suggestions(client, owner, platform, desk_for):
    """Two articles match; the better one is found not useful twice, the other useful once:
    on the next call the other comes first."""
    h = owner.headers
    for title, body in (
        (
            "Warranty claims",
            "A warranty claim for a broken phone needs the receipt. Warranty lasts two years.",
        ),
        ("Phone repairs", "We repair a broken phone in five days."),
    ):
        await ok(await client.post(ARTICLES, headers=h, json={"title": title, "body": body}), 201)
    said = "my phone is broken, is it under warranty"
    ana, ben = await desk_for("ana"), await desk_for("ben")
    await hear(platform, owner.tenant_id, segment(owner.tenant_id, ana.call_id, said))
    [made] = await suggestions(client, ana)
    warranty, repairs = made["articles"]
    assert (warranty["title"], repairs["title"]) == ("Warranty claims", "Phone repairs")

    url = f"{SUGGESTIONS}/suggestions/{made['id']}/feedback"
    given = await client.post(
        url, headers=ana.headers, json={"article_id": warranty["id"], "useful": False}
    )
    assert (await ok(given, 201))["useful"] is False
    # The same person again changes their feedback; a supervisor's counts on its own.
    again = await client.post(
        url,
        headers=ana.headers,
        json={"article_id": warranty["id"], "useful": False, "used": False},
    )
    assert again.status_code == 200, again.text
    await ok(
        await client.post(url, headers=h, json={"article_id": warranty["id"], "useful": False}), 201
    )
    await ok(
        await client.post(
            url,
            headers=ana.headers,
            json={"article_id": repairs["id"], "useful": True, "used": True},
        ),
        201,
    )

    await hear(platform, owner.tenant_id, segment(owner.tenant_id, ben.call_id, said))
    [next_one] = await suggestions(client, ben)
    assert [a["title"] for a in next_one["articles"]] == ["Phone repairs", "Warranty claims"]
    assert next_one["reply"].startswith("We repair a broken phone")


async def test_feedback_is_checked_and_suggestions_are_the_agents_own(
    client, owner, platform, desk_for, as_role
):
    await import_kb(client, owner.headers)
    ana, ben = await desk_for("ana"), await desk_for("ben")
    await hear(platform, owner.tenant_id, segment(owner.tenant_id, ana.call_id, "refund damaged"))
    [made] = await suggestions(client, ana)
    url = f"{SUGGESTIONS}/suggestions/{made['id']}/feedback"

    unknown = await client.get(
        f"{SUGGESTIONS}/calls/{uuid.uuid4()}/suggestions", headers=ana.headers
    )
    assert unknown.status_code == 404
    assert unknown.json()["type"].endswith("/agent-assist-call-not-found")
    # Another agent neither sees it nor may judge it.
    assert await suggestions(client, ana, headers=ben.headers) == []
    refused = await client.post(url, headers=ben.headers, json={"useful": True})
    assert refused.status_code == 404
    assert refused.json()["type"].endswith("/agent-assist-suggestion-not-found")
    # An article it did not suggest.
    wrong = await client.post(url, headers=ana.headers, json={"article_id": str(uuid.uuid4())})
    assert wrong.status_code == 422
    assert wrong.json()["type"].endswith("/agent-assist-feedback-invalid")
    # Without an article: about the reply, counted for its first article.
    whole = await ok(await client.post(url, headers=ana.headers, json={"used": True}), 201)
    assert whole["article_id"] == made["articles"][0]["id"]
    assert (whole["useful"], whole["used"]) == (None, True)
    # The owner (agents:all) sees everyone's; an integrator without the permission nothing.
    assert len(await suggestions(client, ana, headers=owner.headers)) == 1
    integrator = await as_role("integrator")
    assert (
        await client.get(f"{SUGGESTIONS}/calls/{ana.call_id}/suggestions", headers=integrator)
    ).status_code == 403
