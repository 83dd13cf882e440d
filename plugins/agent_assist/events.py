"""Events the agent_assist plugin publishes (catalogue in ``docs/events.md``).

The real-time stream filters by tenant and permission, not by person, so the event carries
ids only (like the queues plugin's offers): the agent's page sees its own ``agent_id`` and
fetches the suggestion through the API, which answers only the agent it was made for and
those who supervise them.
"""

from __future__ import annotations

import uuid

from kernel import Event


class SuggestionCreated(Event):
    name = "agent_assist.suggestion.created"
    description = (
        "Articles and a suggested reply for the agent on a live call (`agent_id`), from what "
        "the customer just said: fetch it with `GET /agent-assist/calls/{call_id}/suggestions`."
    )
    permission = "agent_assist:use"
    aggregate = "call_id"

    suggestion_id: uuid.UUID
    call_id: uuid.UUID
    agent_id: uuid.UUID
    article_ids: list[uuid.UUID]


EVENT_TYPES: tuple[type[Event], ...] = (SuggestionCreated,)
