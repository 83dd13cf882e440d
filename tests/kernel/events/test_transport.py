"""The event transport's choice and its pieces that need no broker: the default stays
PostgreSQL LISTEN/NOTIFY (SQLite: in process); ``nats`` needs a URL and PostgreSQL; the relay
takes an in-memory hand-off only when it follows its cursor; events cross NATS unchanged."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from kernel import Settings
from kernel._events.nats import decode, encode, subject
from kernel._events.relay import following
from kernel._events.transport import DatabaseTransport
from kernel._events.types import DeliveredEvent
from kernel._platform import build_platform


def event(position: int, tenant: uuid.UUID | None = None) -> DeliveredEvent:
    return DeliveredEvent(
        id=uuid.uuid4(),
        tenant_id=tenant or uuid.uuid4(),
        name="calls.call.answered",
        version=2,
        occurred_at=datetime(2026, 12, 6, 1, 2, 3, 456789, tzinfo=UTC),
        aggregate="calls.call:1",
        payload={"call_id": "1", "answered_by": None, "nested": {"a": [1, 2]}},
        position=position,
        trace_id="0af7651916cd43dd8448eb211c80319c",
    )


def test_the_default_transport_is_the_database(kraliki_settings):
    assert Settings(_env_file=None).event_transport == "postgres"
    platform = build_platform(kraliki_settings, [])
    transport = platform.event_transport
    assert isinstance(transport, DatabaseTransport)
    postgres = kraliki_settings.dialect == "postgresql"
    channels = transport.listen_channels()
    assert channels == (
        {platform.events.dispatched_channel: platform.events.dispatched} if postgres else {}
    )


def test_nats_needs_a_url_and_postgresql(kraliki_settings):
    with pytest.raises(ValidationError, match="KRALIKI_NATS_URL"):
        Settings(_env_file=None, event_transport="nats")
    with pytest.raises(ValidationError, match="KRALIKI_NATS_URL"):
        Settings(_env_file=None, event_transport="nats", nats_url="")
    sqlite = Settings(
        _env_file=None,
        database_url="sqlite+aiosqlite:///./never.db",
        event_transport="nats",
        nats_url="nats://127.0.0.1:4222",
    )
    with pytest.raises(ValueError, match="PostgreSQL"):
        _ = build_platform(sqlite, []).event_transport


def test_the_nats_url_is_a_secret():
    settings = Settings(
        _env_file=None, event_transport="nats", nats_url="nats://user:s3cret@nats:4222"
    )
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize("prefix", ["kraliki.events.>", "kraliki..events", "a b", ""])
def test_a_subject_prefix_is_plain_tokens(prefix):
    with pytest.raises(ValidationError):
        Settings(_env_file=None, nats_subject_prefix=prefix)


def test_an_event_crosses_nats_unchanged():
    sent = event(7)
    assert decode(encode(sent)) == sent
    assert subject("kraliki.events", sent) == f"kraliki.events.{sent.tenant_id}.calls.call.answered"


def test_the_relay_takes_a_hand_off_only_when_it_follows_the_cursor():
    tenant = uuid.uuid4()
    batch = [event(p, tenant) for p in (4, 5, 6)]
    assert following(batch, 3) == batch
    assert following(batch, 4) == batch[1:]  # 4 was relayed already
    assert following(batch, 6) == []
    assert following(batch, 2) == []  # 3 is missing: read the outbox instead
    assert following([batch[0], batch[2]], 3) == [batch[0]]  # stops at a hole
