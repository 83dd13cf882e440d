"""``GET /api/v1/supervisor/wallboard``: the board's snapshot through the API as the page
reads it: scoped to the teams a supervisor leads, one tenant's only, refused to agents,
and a fixed handful of statements however many agents and queues."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest
from fastapi import FastAPI
from sqlalchemy import event
from wallboard_helpers import WALLBOARD, live_session, person, raise_alert, seed

from kernel import current_tenant_id, tenant_scope


@contextmanager
def statements(app: FastAPI, tenant_id: uuid.UUID) -> Iterator[list[str]]:
    """The statements run in ``tenant_id``'s scope (the request's; not the background
    workers' sweeps, which run outside any tenant's)."""
    seen: list[str] = []
    engine = app.state.platform.database.engine.sync_engine

    def record(_conn, _cursor, sql, _params, _context, _many) -> None:
        if current_tenant_id() == tenant_id:
            seen.append(" ".join(sql.split())[:80])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


KERNEL = (
    "SELECT users.",
    "UPDATE auth_sessions",
    "SELECT max(kernel_events",
    "SELECT kernel_events",
)
"""The request's own statements (the credential's check, which may touch the login session)
and the stream's head (one statement without events, two with): not the board's."""


async def test_a_supervisor_sees_the_queues_and_only_the_agents_of_the_teams_they_lead(
    kraliki_app, kraliki_client, kraliki_make_owner, kraliki_make_user
):
    owner = await kraliki_make_owner("acme")
    lead_id, lead = await person(kraliki_client, kraliki_make_user, owner, "sue", "supervisor")
    board = await seed(
        kraliki_app.state.platform,
        kraliki_client,
        owner,
        teams=2,
        agents_per_team=6,
        queues=2,
        leader=lead_id,
    )
    mine, theirs = board.agents[board.teams[0]], board.agents[board.teams[1]]
    raised = await raise_alert(kraliki_app.state.platform, owner.tenant_id, "Queue 00")
    await raise_alert(kraliki_app.state.platform, owner.tenant_id, "Queue 01", cleared=True)
    on_call = next(a for a in mine if a in board.calls)
    watched = await live_session(
        kraliki_app.state.platform, owner.tenant_id, on_call, board.calls[on_call], str(lead_id)
    )
    elsewhere = next(a for a in theirs if a in board.calls)
    await live_session(
        kraliki_app.state.platform,
        owner.tenant_id,
        elsewhere,
        board.calls[elsewhere],
        str(uuid.uuid4()),
    )
    await live_session(
        kraliki_app.state.platform,
        owner.tenant_id,
        on_call,
        board.calls[on_call],
        str(uuid.uuid4()),
        status="ended",
    )

    response = await kraliki_client.get(WALLBOARD, headers=lead)
    assert response.status_code == 200, response.text
    data = response.json()
    assert {a["id"] for a in data["agents"]} == {str(a) for a in mine}
    assert [q["name"] for q in data["queues"]] == ["Queue 00", "Queue 01"]
    queue = data["queues"][0]
    assert (queue["waiting"], queue["abandoned_today"]) == (2, 0)
    assert 47 <= queue["longest_wait_seconds"] < 60
    assert queue["agents"] == {
        "available": 1,
        "reserved": 1,
        "on_call": 1,
        "wrap_up": 1,
        "away": 1,
        "offline": 1,
    }
    assert [a["id"] for a in data["alerts"]] == [str(raised)]
    assert [(s["id"], s["mine"]) for s in data["sessions"]] == [(str(watched), True)]
    assert data["can"] == {"monitor": True, "whisper": True, "barge": True}
    assert data["subject"] == str(lead_id)

    shown = {a["id"]: a for a in data["agents"]}
    talking = shown[str(on_call)]
    assert talking["state"] == "on_call"
    assert talking["current_call_id"] == str(board.calls[on_call])
    assert talking["sentiment"] is None
    started = datetime.fromisoformat(talking["call_started_at"])
    assert started > datetime.fromisoformat(talking["state_since"])  # the handled call's
    away = next(a for a in data["agents"] if a["state"] == "away")
    assert away["reason_code"] == "break"
    assert away["call_started_at"] is None

    # The owner (agents:all) sees everyone, and every live session.
    everything = (await kraliki_client.get(WALLBOARD, headers=owner.headers)).json()
    assert {a["id"] for a in everything["agents"]} == {str(a) for a in board.all_agents()}
    assert len(everything["sessions"]) == 2


async def test_the_stream_point_is_the_last_event_dispatched_before_the_snapshot(
    kraliki_app, kraliki_client, kraliki_make_owner
):
    platform = kraliki_app.state.platform
    owner = await kraliki_make_owner("acme")
    await platform.dispatcher.drain()
    first = (await kraliki_client.get(WALLBOARD, headers=owner.headers)).json()["stream"]
    for name in ("Ana", "Ben"):  # each publishes agents.agent.created
        agent = await kraliki_client.post(
            "/api/v1/agents",
            headers=owner.headers,
            json={"display_name": name, "reach": {"kind": "loopback"}},
        )
        assert agent.status_code == 201, agent.text
    await platform.dispatcher.drain()
    with tenant_scope(owner.tenant_id):
        async with platform.database.session() as session:
            head = await platform.events.head(session)
            last = (await platform.events.read(session, after=head - 1, limit=1))[-1]
    second = (await kraliki_client.get(WALLBOARD, headers=owner.headers)).json()["stream"]
    assert second == {"position": head, "last_event_id": str(last.id)}
    assert second["position"] >= first["position"] + 2


async def test_another_tenants_board_shows_nothing_of_this_one(
    kraliki_app, kraliki_client, kraliki_make_owner
):
    acme = await kraliki_make_owner("acme")
    globex = await kraliki_make_owner("globex")
    await seed(
        kraliki_app.state.platform, kraliki_client, acme, teams=1, agents_per_team=4, queues=1
    )
    await raise_alert(kraliki_app.state.platform, acme.tenant_id, "Queue 00")
    theirs = (await kraliki_client.get(WALLBOARD, headers=globex.headers)).json()
    assert (theirs["agents"], theirs["queues"], theirs["alerts"], theirs["sessions"]) == (
        [],
        [],
        [],
        [],
    )
    ours = (await kraliki_client.get(WALLBOARD, headers=acme.headers)).json()
    assert (len(ours["agents"]), len(ours["queues"]), len(ours["alerts"])) == (4, 1, 1)


@pytest.mark.parametrize("role", ["agent", "integrator"])
async def test_an_agent_may_not_read_the_board(
    kraliki_client, kraliki_make_owner, kraliki_make_user, role
):
    owner = await kraliki_make_owner("acme")
    _, headers = await person(kraliki_client, kraliki_make_user, owner, "ana", role)
    response = await kraliki_client.get(WALLBOARD, headers=headers)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "dashboard:read" in response.json()["detail"]
    assert (await kraliki_client.get(WALLBOARD)).status_code == 401


async def test_500_agents_and_50_queues_cost_as_many_statements_as_5_and_2(
    kraliki_app, kraliki_client, kraliki_make_owner, kraliki_make_user
):
    platform = kraliki_app.state.platform
    small = await kraliki_make_owner("small")
    big = await kraliki_make_owner("big")
    small_lead, small_headers = await person(
        kraliki_client, kraliki_make_user, small, "sue", "supervisor"
    )
    big_lead, big_headers = await person(
        kraliki_client, kraliki_make_user, big, "sue", "supervisor"
    )
    await seed(
        platform, kraliki_client, small, teams=1, agents_per_team=6, queues=2, leader=small_lead
    )
    await seed(
        platform,
        kraliki_client,
        big,
        teams=10,
        agents_per_team=50,
        queues=50,
        leader=big_lead,
        led_teams=10,
    )
    counts = []
    for owner, headers, agents, queues in (
        (small, small_headers, 6, 2),
        (big, big_headers, 500, 50),
    ):
        await kraliki_client.get(WALLBOARD, headers=headers)  # caches warm (policy, zone)
        with statements(kraliki_app, owner.tenant_id) as seen:
            response = await kraliki_client.get(WALLBOARD, headers=headers)
        assert response.status_code == 200, response.text
        data = response.json()
        assert (len(data["agents"]), len(data["queues"])) == (agents, queues)
        assert sum(a["current_call_id"] is not None for a in data["agents"]) == len(
            range(1, agents, 6)
        )  # every sixth agent, from the second
        counts.append(len([sql for sql in seen if not sql.startswith(KERNEL)]))
    assert counts[0] == counts[1], counts  # no statement per agent or queue
    # scope, queues, agents, calls, sessions, alerts... and the sentiment plugin's one read
    assert 7 <= counts[1] <= 11, counts
