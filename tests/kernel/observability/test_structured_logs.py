"""Log lines: JSON with trace, span and tenant ids inside a request; secrets never written."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends
from opentelemetry.trace import SpanKind
from pydantic import SecretBytes, SecretStr

from kernel import Permission, Principal, require
from kernel._observability.logging import (
    MASK,
    ConsoleFormatter,
    ContextFilter,
    JsonFormatter,
    logging_config,
)
from kernel.testing import login

READ = Permission("chatty.notes", "read", "Read notes.", ("agent",))
SECRET = "hunter2-very-secret-value"
logger = logging.getLogger("chatty")


class VaultValue:
    """What the vault hands out: a decrypted value that knows it is secret."""

    __kraliki_secret__ = True

    def __init__(self, value: str) -> None:
        self.value = value

    def __str__(self) -> str:
        return self.value

    __repr__ = __str__


def chatty_router() -> APIRouter:
    router = APIRouter()

    @router.get("/notes/{note_id}")
    async def read_note(
        note_id: uuid.UUID, _: Annotated[Principal, Depends(require(READ.resource, READ.action))]
    ) -> dict[str, str]:
        logger.info("note %s read", note_id, extra={"note_id": str(note_id)})
        return {"id": str(note_id)}

    return router


@pytest.fixture
def kraliki_extra_plugins(make_plugin: Any) -> list[object]:
    return [make_plugin("chatty", permissions=[READ], routers=[chatty_router()])]


@pytest.fixture
def capture() -> Iterator[tuple[io.StringIO, logging.Handler]]:
    """A handler set up as the CLI sets up the root one (JSON, context filter), on a stream."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream, handler
    finally:
        logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_request_log_line_carries_trace_span_and_tenant(
    kraliki_client, kraliki_spans, kraliki_make_tenant, kraliki_make_user, capture
):
    stream, _ = capture
    tenant_id = await kraliki_make_tenant("acme")
    await kraliki_make_user(tenant_id, "agent@acme.example.com")
    headers = await login(kraliki_client, "agent@acme.example.com", tenant="acme")
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    note = uuid.uuid4()
    response = await kraliki_client.get(
        f"/api/v1/chatty/notes/{note}",
        headers={**headers, "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
    )
    assert response.status_code == 200
    [line] = lines(stream)
    server = next(
        s
        for s in kraliki_spans.get_finished_spans()
        if s.kind == SpanKind.SERVER and "chatty" in s.name
    )
    assert line["message"] == f"note {note} read"
    assert line["level"] == "INFO"
    assert line["logger"] == "chatty"
    assert line["trace_id"] == trace_id
    assert line["span_id"] == format(server.context.span_id, "016x")
    assert line["tenant_id"] == str(tenant_id)
    assert line["note_id"] == str(note)
    assert line["time"].endswith("+00:00")


def test_line_outside_a_request_has_null_ids(capture):
    stream, _ = capture
    logger.warning("plain")
    [line] = lines(stream)
    assert (line["trace_id"], line["span_id"], line["tenant_id"]) == (None, None, None)


def test_exception_is_one_string_field(capture):
    stream, _ = capture
    try:
        raise ValueError("bad input")
    except ValueError:
        logger.exception("failed")
    [line] = lines(stream)
    assert line["message"] == "failed"
    assert "ValueError: bad input" in line["exception"]


@pytest.mark.parametrize(
    "secret", [SecretStr(SECRET), SecretBytes(SECRET.encode()), VaultValue(SECRET)]
)
def test_secret_values_never_appear(capture, secret):
    stream, _ = capture
    logger.info("as argument: %s", secret)
    logger.info("as mapping argument: %(value)s", {"value": secret})
    logger.info(secret)
    logger.info("as extra", extra={"value": secret})
    logger.info("nested", extra={"config": {"provider": "twilio", "keys": [secret, {"x": secret}]}})
    output = stream.getvalue()
    assert SECRET not in output
    parsed = lines(stream)
    assert parsed[0]["message"] == f"as argument: {MASK}"
    assert parsed[1]["message"] == f"as mapping argument: {MASK}"
    assert parsed[2]["message"] == MASK
    assert parsed[3]["value"] == MASK
    assert parsed[4]["config"] == {"provider": "twilio", "keys": [MASK, {"x": MASK}]}


@pytest.mark.parametrize(
    "key", ["password", "api_key", "auth_token", "authorization", "cookie", "client_secret"]
)
def test_credential_named_fields_are_masked_whatever_their_value(capture, key):
    stream, _ = capture
    logger.info("login", extra={key: "plain-text-value", "nested": {key: "plain-text-value"}})
    [line] = lines(stream)
    assert "plain-text-value" not in stream.getvalue()
    assert line[key] == MASK
    assert line["nested"] == {key: MASK}


def test_console_format_redacts_too():
    record = logging.LogRecord(
        "chatty", logging.INFO, __file__, 1, "key %s", (SecretStr(SECRET),), None
    )
    record.password = SECRET
    record.vault = VaultValue(SECRET)
    text = ConsoleFormatter().format(record)
    assert SECRET not in text
    assert f"key {MASK}" in text
    assert f"password={MASK}" in text


def test_access_log_query_tokens_are_masked():
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/api/v1/x?access_token={SECRET}&page=2", "1.1", 200),
        None,
    )
    line = json.loads(JsonFormatter().format(record))
    assert SECRET not in line["message"]
    assert f"access_token={MASK}&page=2" in line["message"]


def test_logging_config_routes_uvicorn_through_the_root_handler():
    config = logging_config("debug", "console")
    assert config["root"]["level"] == "DEBUG"
    assert config["formatters"]["kraliki"]["()"].endswith("ConsoleFormatter")
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        assert config["loggers"][name] == {"handlers": [], "propagate": True}
    assert logging_config("INFO", "json")["formatters"]["kraliki"]["()"].endswith("JsonFormatter")
