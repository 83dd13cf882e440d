"""What one IVR turn costs the database: one session, one transaction, a bounded number of
statements, no vault round trip once the worker's secret cache holds the Twilio auth token
(docs/adr/0034). A change that adds statements to the turn fails here: lower the bounds
when you make it cheaper, raise them only with a reason in the ADR."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from fastapi import FastAPI
from ivr_calls import CALLER, NUMBER, flow_sessions, publish_and_route
from ivr_helpers import flow
from sqlalchemy import event

from plugins.calls import PERMISSIONS
from plugins.calls.testing import served_platform
from plugins.twilio.testing import TwilioDouble, use_twilio

CALLS_ALL = tuple(p.key for p in PERMISSIONS)

LOOP = flow(
    "menu",
    menu={
        "type": "menu",
        "options": [{"key": "1", "label": "news"}],
        "retries": 1,
        "exits": {"1": "news", "no_input": "bye", "no_match": "bye"},
    },
    news={"type": "say", "text": "No news today.", "exits": {"next": "menu"}},
    bye={"type": "hangup", "message": "Goodbye."},
)

MAX_STATEMENTS = {"postgresql": 17, "sqlite": 15}
"""Statements of one warm turn (gather -> menu:1 -> news -> menu), as measured when the
webhook became one session and one transaction (23 on PostgreSQL before, 4 of them
``set_config``). On PostgreSQL: ``set_config``, the tenant, the secret's version, the
receipt, the call and the IVR session ``FOR UPDATE``, their updates, two timeline rows, three
outbox rows and one ``pg_notify``, ``SAVEPOINT`` and ``RELEASE``, the answer kept."""


@pytest.fixture
async def double() -> AsyncIterator[TwilioDouble]:
    async with TwilioDouble() as server:
        yield server


@pytest.fixture
async def app(kraliki_make_app, double, monkeypatch) -> AsyncIterator[FastAPI]:
    environment = double.environment()
    async with served_platform(
        kraliki_make_app, monkeypatch, environment, background_workers=False
    ) as app:
        yield app


@pytest.fixture
async def tenant(tenant, app, double) -> uuid.UUID:
    """The organization of every IVR test, calling through the double."""
    await use_twilio(app.state.platform, tenant, double, max_concurrent_calls=10)
    return tenant


@dataclass
class Watched:
    statements: list[str] = field(default_factory=list)
    sessions: set[int] = field(default_factory=set)
    transactions: int = 0


@contextmanager
def watch(app: FastAPI) -> Iterator[Watched]:
    """The statements, sessions and (top-level) transactions of the platform's database."""
    seen = Watched()
    engine = app.state.platform.database.engine.sync_engine
    session_class = app.state.platform.database.sessionmaker.kw["sync_session_class"]

    def statement(_conn, _cursor, sql, _params, _context, _many) -> None:
        seen.statements.append(" ".join(sql.split())[:60])

    def began(session, transaction, _connection) -> None:
        if not transaction.nested:
            seen.sessions.add(id(session))
            seen.transactions += 1

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(session_class, "after_begin", began)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(session_class, "after_begin", began)


async def test_an_ivr_turn_is_one_session_one_transaction_and_few_statements(
    client, tenant, double, app
):
    await publish_and_route(client, "twilio", LOOP)
    voice = f"{app.state.public_url}/webhooks/twilio/{tenant}/voice"
    call, _ = await double.inbound_call(voice, from_=CALLER, to=NUMBER)
    assert (await double.press(call.sid, "1")).status_code == 200  # the cache is warm now

    with watch(app) as turn:
        answer = await double.press(call.sid, "1")
    assert answer.status_code == 200, answer.text
    assert b"No news today." in answer.content
    assert b"<Gather" in answer.content

    dialect = app.state.platform.database.dialect
    assert len(turn.sessions) == 1, turn.statements
    assert turn.transactions == 1, turn.statements
    assert len(turn.statements) <= MAX_STATEMENTS[dialect], turn.statements
    assert not [s for s in turn.statements if "vault_access_events" in s or "vault_data" in s]
    if dialect == "postgresql":
        assert sum("set_config" in s for s in turn.statements) == 1, turn.statements
    [kept] = await flow_sessions(app.state.platform, tenant)
    assert kept.state["path"][-4:] == ["menu:1", "news:next", "menu:1", "news:next"]


async def test_a_cold_cache_costs_one_audited_decryption_in_its_own_session(
    client, tenant, double, app
):
    """The first webhook of a worker fills its cache: the decryption is audited (and
    committed) in a transaction of its own, so it is on record even if the webhook fails."""
    await publish_and_route(client, "twilio", LOOP)
    app.state.platform.vault.secrets.clear()
    voice = f"{app.state.public_url}/webhooks/twilio/{tenant}/voice"
    with watch(app) as first:
        call, answered = await double.inbound_call(voice, from_=CALLER, to=NUMBER)
    assert answered.status_code == 200
    assert len(first.sessions) == 2  # the webhook's and the vault's audited fill
    assert sum("INSERT INTO vault_access_events" in s for s in first.statements) == 1
    with watch(app) as second:
        assert (await double.press(call.sid, "1")).status_code == 200
    assert len(second.sessions) == 1
    assert not [s for s in second.statements if "vault_access_events" in s]
