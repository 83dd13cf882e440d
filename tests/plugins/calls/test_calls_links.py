"""A call's ``links``: other plugins relate calls to their own resources (a contact) through
``kraliki_call_links``, asked once per answer, without calls knowing them; one that fails
or answers garbage is left out and never fails the request."""

from __future__ import annotations

import logging
import types
import uuid
from typing import Any

import pytest

from kernel import PluginInfo, Principal, __version__, hookimpl
from plugins.calls import Call
from plugins.calls.testing import fakeline_plugin

ALICE = "+14155550111"


def linking_plugin(asked: list[tuple[str, list[uuid.UUID]]]) -> types.SimpleNamespace:
    """Links the calls to ALICE to her contact, for principals who may read calls."""

    async def kraliki_call_links(platform, session, principal: Principal, calls: list[Call]):
        asked.append((principal.subject, [call.id for call in calls]))
        contact = {"id": "c-1", "name": "Alice", "href": "/api/v1/contacts/c-1"}
        return {call.id: {"contact": contact} for call in calls if call.to_number == ALICE}

    plugin = types.SimpleNamespace(
        kraliki_plugin_info=hookimpl(
            lambda: PluginInfo(name="linker", version=__version__, requires=("calls",))
        ),
        kraliki_call_links=hookimpl(kraliki_call_links),
    )
    plugin.__name__ = "linker"
    return plugin


def broken_plugin(name: str, answer: Any) -> types.SimpleNamespace:
    """Raises (``answer`` an exception) or answers ``answer``; also claims ``contact``."""

    def kraliki_call_links(calls):
        if isinstance(answer, BaseException):
            raise answer
        return answer(calls) if callable(answer) else answer

    plugin = types.SimpleNamespace(
        kraliki_plugin_info=hookimpl(
            lambda: PluginInfo(name=name, version=__version__, requires=("calls", "linker"))
        ),
        kraliki_call_links=hookimpl(kraliki_call_links),
    )
    plugin.__name__ = name
    return plugin


ASKED: list[tuple[str, list[uuid.UUID]]] = []


@pytest.fixture
def kraliki_extra_plugins():
    ASKED.clear()

    def second_opinion(calls):
        # Later in dependency order: cannot replace `contact`; its own name is added.
        return {
            c.id: {"deal": {"id": 7}, **({"contact": "impostor"} if c.to_number == ALICE else {})}
            for c in calls
        }

    return [
        fakeline_plugin(),
        linking_plugin(ASKED),
        broken_plugin("raiser", RuntimeError("plugin bug with +14155550111")),
        broken_plugin("garbage", ["not", "a", "mapping"]),
        broken_plugin("unserializable", lambda calls: {c.id: {"x": object()} for c in calls}),
        broken_plugin("second", second_opinion),
    ]


async def test_links_in_the_list_the_call_and_its_update(client, place, platform, caplog):
    to_alice = await place(to=ALICE)
    other = await place(to="+14155550122")
    assert to_alice["links"] == {}  # actions' answers carry no links

    with caplog.at_level(logging.WARNING):
        page = (await client.get("/api/v1/calls", params={"limit": 10})).json()
    links = {item["id"]: item["links"] for item in page["items"]}
    contact = {"id": "c-1", "name": "Alice", "href": "/api/v1/contacts/c-1"}
    assert links == {
        to_alice["id"]: {"contact": contact, "deal": {"id": 7}},
        other["id"]: {"deal": {"id": 7}},
    }
    [(subject, ids)] = ASKED  # one question for the whole page
    assert subject == "test-user"  # the principal asking, to link only what it may read
    assert set(map(str, ids)) == {to_alice["id"], other["id"]}
    assert platform.hooks.failures[("raiser", "kraliki_call_links")] == 1
    warned = {r.plugin for r in caplog.records if getattr(r, "hook", None) == "kraliki_call_links"}
    assert {"raiser", "garbage", "unserializable"} <= warned

    detail = (await client.get(f"/api/v1/calls/{to_alice['id']}")).json()
    assert detail["links"] == {"contact": contact, "deal": {"id": 7}}
    patched = await client.patch(f"/api/v1/calls/{other['id']}", json={"notes": "later"})
    assert patched.status_code == 200
    assert patched.json()["links"] == {"deal": {"id": 7}}
    assert len(ASKED) == 3


async def test_an_empty_page_asks_nobody(client, tenant):
    page = (await client.get("/api/v1/calls")).json()
    assert page["items"] == []
    assert ASKED == []


async def test_links_are_in_the_openapi_schema(client):
    schema = (await client.get("/openapi.json")).json()["components"]["schemas"]
    assert schema["CallOut"]["properties"]["links"]["type"] == "object"
    assert schema["CallDetailOut"]["properties"]["links"]["type"] == "object"
