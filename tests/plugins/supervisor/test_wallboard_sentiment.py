"""The caller's sentiment on the board comes from plugins (``kraliki_supervisor_call_sentiment``,
the AI plugin's): the first answer per call wins; one that raises or answers garbage is left
out and never fails the board."""

from __future__ import annotations

import types
import uuid

import pytest
from wallboard_helpers import WALLBOARD, seed

from kernel import PluginInfo, __version__, hookimpl
from plugins.supervisor import Sentiment

ASKED: list[list[uuid.UUID]] = []


def sentiment_plugin(name: str, answer, requires: tuple[str, ...] = ("supervisor",)):
    def kraliki_supervisor_call_sentiment(call_ids):
        ASKED.append(list(call_ids))
        if isinstance(answer, BaseException):
            raise answer
        return answer(call_ids)

    plugin = types.SimpleNamespace(
        kraliki_plugin_info=hookimpl(
            lambda: PluginInfo(name=name, version=__version__, requires=requires)
        ),
        kraliki_supervisor_call_sentiment=hookimpl(kraliki_supervisor_call_sentiment),
    )
    plugin.__name__ = name
    return plugin


@pytest.fixture
def kraliki_extra_plugins():
    ASKED.clear()
    return [
        sentiment_plugin(
            "listener", lambda ids: {i: Sentiment(label="negative", score=-0.6) for i in ids}
        ),
        sentiment_plugin(
            "second", lambda ids: {i: {"label": "positive"} for i in ids}, ("listener",)
        ),
        sentiment_plugin("raiser", RuntimeError("plugin bug"), ("listener",)),
        sentiment_plugin("garbage", lambda ids: ["not", "a", "mapping"], ("listener",)),
    ]


async def test_a_plugin_gives_the_callers_sentiment_the_first_answer_wins(
    kraliki_app, kraliki_client, kraliki_make_owner
):
    owner = await kraliki_make_owner("acme")
    board = await seed(
        kraliki_app.state.platform, kraliki_client, owner, teams=1, agents_per_team=6, queues=0
    )
    response = await kraliki_client.get(WALLBOARD, headers=owner.headers)
    assert response.status_code == 200, response.text
    assert sorted(ASKED[0]) == sorted(board.calls.values())  # the calls on the board
    for agent in response.json()["agents"]:
        if uuid.UUID(agent["id"]) in board.calls:
            assert agent["sentiment"] == {"label": "negative", "score": -0.6, "at": None}
        else:
            assert agent["sentiment"] is None
