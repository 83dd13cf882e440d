"""Tracing through HTTP: the server span and its attributes, DB and outbound child spans,
``traceparent`` propagation, and the exporter configuration from the OTEL_* variables."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind
from sqlalchemy import text

from kernel import Permission, PlatformDep, SessionDep, public, require
from kernel._observability.tracing import (
    DEFAULT_SERVICE_NAME,
    build_tracing,
    current_trace_ids,
    instrument_http_client,
)
from kernel.testing import login

READ = Permission("probe.things", "read", "Read probe things.", ("agent",))
TRACE_ID = "0af7651916cd43dd8448eb211c4319c7"
PARENT_SPAN_ID = "b7ad6b7169203331"
OUTBOUND: dict[str, str] = {}
OTEL_VARIABLES = (
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_SERVICE_NAME",
)


def probe_router() -> APIRouter:
    router = APIRouter()

    @router.get("/things/{thing_id}", dependencies=[Depends(require(READ.resource, READ.action))])
    async def get_thing(thing_id: uuid.UUID, session: SessionDep) -> dict[str, Any]:
        await session.execute(text("SELECT 1"))
        trace_id, span_id = current_trace_ids()
        return {"id": str(thing_id), "trace_id": trace_id, "span_id": span_id}

    @router.get("/outbound", dependencies=[Depends(require(READ.resource, READ.action))])
    async def call_out(platform: PlatformDep) -> dict[str, int]:
        async with httpx.AsyncClient() as client:
            instrument_http_client(client, platform)
            response = await client.get(OUTBOUND["url"])
        return {"status": response.status_code}

    @router.get("/open", dependencies=[Depends(public("tracing test"))])
    async def open_route() -> dict[str, str]:
        return {}

    return router


@pytest.fixture(autouse=True)
def no_otel_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def kraliki_extra_plugins(make_plugin: Any) -> list[object]:
    return [make_plugin("probe", permissions=[READ], routers=[probe_router()])]


@pytest.fixture
async def agent(kraliki_client, kraliki_make_tenant, kraliki_make_user) -> tuple[uuid.UUID, Any]:
    tenant_id = await kraliki_make_tenant("acme")
    await kraliki_make_user(tenant_id, "agent@acme.example.com")
    return tenant_id, await login(kraliki_client, "agent@acme.example.com", tenant="acme")


def server_span(spans: tuple[ReadableSpan, ...], route: str) -> ReadableSpan:
    found = [
        s
        for s in spans
        if s.kind == SpanKind.SERVER and (s.attributes or {}).get("http.route") == route
    ]
    assert len(found) == 1, [(s.name, s.attributes) for s in spans]
    return found[0]


async def test_request_span_carries_tenant_plugin_and_permission(
    kraliki_client, kraliki_spans, agent
):
    tenant_id, headers = agent
    thing = uuid.uuid4()
    response = await kraliki_client.get(f"/api/v1/probe/things/{thing}", headers=headers)
    assert response.status_code == 200, response.text
    spans = kraliki_spans.get_finished_spans()
    span = server_span(spans, "/api/v1/probe/things/{thing_id}")
    attributes = dict(span.attributes or {})
    assert attributes["tenant.id"] == str(tenant_id)
    assert attributes["plugin.name"] == "probe"
    assert attributes["kraliki.permission"] == "probe.things:read"
    assert attributes["kraliki.principal.kind"] == "user"
    assert attributes["http.response.status_code"] == 200
    assert span.name == "GET /api/v1/probe/things/{thing_id}"
    # Identifiers only: the credential and the caller's e-mail never reach a span.
    token = headers["Authorization"].split()[1]
    for value in attributes.values():
        assert token not in str(value)
        assert "agent@acme.example.com" not in str(value)
    # The route saw the server span as current (what logs and audit records use).
    assert response.json()["trace_id"] == format(span.context.trace_id, "032x")
    assert response.json()["span_id"] == format(span.context.span_id, "016x")
    # One child span per SQL statement: the credential check and the route's own query.
    children = [
        s for s in spans if s.parent is not None and s.parent.span_id == span.context.span_id
    ]
    database = [s for s in children if s.kind == SpanKind.CLIENT]
    assert any(s.name.startswith("SELECT") for s in database), [s.name for s in children]
    assert all(s.context.trace_id == span.context.trace_id for s in database)


async def test_public_and_kernel_routes_are_labelled(kraliki_client, kraliki_spans):
    assert (await kraliki_client.get("/api/v1/probe/open")).status_code == 200
    assert (await kraliki_client.get("/healthz")).status_code == 200
    spans = kraliki_spans.get_finished_spans()
    probe = server_span(spans, "/api/v1/probe/open").attributes or {}
    assert probe["plugin.name"] == "probe"
    assert probe["kraliki.access"] == "public"
    assert (server_span(spans, "/healthz").attributes or {})["plugin.name"] == "kernel"


async def test_refused_request_still_names_the_permission(kraliki_client, kraliki_spans, agent):
    _tenant_id, headers = agent
    response = await kraliki_client.get("/api/v1/tenants", headers=headers)
    assert response.status_code == 403
    span = server_span(kraliki_spans.get_finished_spans(), "/api/v1/tenants")
    assert (span.attributes or {})["kraliki.permission"] == "tenants:read"
    assert (span.attributes or {})["http.response.status_code"] == 403


async def test_incoming_traceparent_is_honoured(kraliki_client, kraliki_spans):
    response = await kraliki_client.get(
        "/api/v1/probe/open", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"}
    )
    assert response.status_code == 200
    span = server_span(kraliki_spans.get_finished_spans(), "/api/v1/probe/open")
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == PARENT_SPAN_ID
    assert span.parent.is_remote


@pytest.fixture
async def loopback_server() -> AsyncIterator[list[dict[str, str]]]:
    """A bare HTTP server on 127.0.0.1 recording the headers of each request it gets."""
    received: list[dict[str, str]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")[1:]
        received.append(
            {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines) if k}
        )
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    OUTBOUND["url"] = f"http://127.0.0.1:{port}/hello"
    try:
        yield received
    finally:
        server.close()
        await server.wait_closed()
        OUTBOUND.clear()


async def test_outbound_http_span_joins_the_request_trace(
    kraliki_client, kraliki_spans, agent, loopback_server
):
    _tenant_id, headers = agent
    response = await kraliki_client.get(
        "/api/v1/probe/outbound",
        headers={**headers, "traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"},
    )
    assert response.json() == {"status": 200}
    spans = kraliki_spans.get_finished_spans()
    server = server_span(spans, "/api/v1/probe/outbound")
    outbound = [s for s in spans if s.kind == SpanKind.CLIENT and s.name in ("GET", "HTTP GET")]
    assert len(outbound) == 1, [(s.name, s.kind) for s in spans]
    client_span = outbound[0]
    assert client_span.parent is not None
    assert client_span.parent.span_id == server.context.span_id
    assert format(client_span.context.trace_id, "032x") == TRACE_ID
    # The downstream service received the trace context.
    traceparent = loopback_server[0]["traceparent"]
    assert traceparent.split("-")[1] == TRACE_ID
    assert traceparent.split("-")[2] == format(client_span.context.span_id, "016x")


async def test_ids_without_recording_when_nothing_exports(kraliki_platform, kraliki_client, agent):
    """No exporter: spans are not recorded, but the route still sees the caller's trace id
    (for log lines and audit records) and a span id of its own."""
    assert not kraliki_platform.tracing.recording
    _tenant_id, headers = agent
    response = await kraliki_client.get(
        f"/api/v1/probe/things/{uuid.uuid4()}",
        headers={**headers, "traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"},
    )
    assert response.json()["trace_id"] == TRACE_ID
    assert response.json()["span_id"] not in (None, PARENT_SPAN_ID)
    fresh = (
        await kraliki_client.get(f"/api/v1/probe/things/{uuid.uuid4()}", headers=headers)
    ).json()
    assert fresh["trace_id"] not in (None, TRACE_ID)


def test_current_trace_ids_outside_a_span():
    assert current_trace_ids() == (None, None)


def test_no_exporter_by_default(kraliki_platform):
    tracing = kraliki_platform.tracing
    assert tracing.enabled  # spans get ids (for logs), but are neither recorded nor sent
    assert tracing.exporter is None
    assert not tracing.recording
    assert not any(isinstance(p, BatchSpanProcessor) for p in tracing.processors)
    resource = tracing.provider.resource.attributes
    assert resource["service.name"] == DEFAULT_SERVICE_NAME


def test_otlp_exporter_from_the_generic_endpoint(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector:4318/")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "kraliki-api")
    tracing = build_tracing()
    try:
        assert isinstance(tracing.exporter, OTLPSpanExporter)
        assert tracing.exporter._endpoint == "http://otel-collector:4318/v1/traces"
        assert any(isinstance(p, BatchSpanProcessor) for p in tracing.processors)
        assert tracing.recording
        assert tracing.provider.resource.attributes["service.name"] == "kraliki-api"
    finally:
        tracing.shutdown()


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/custom"}, "http://c:4318/custom"),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, "http://localhost:4318/v1/traces"),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, None),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, None),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"}, None),
    ],
)
def test_exporter_selection(monkeypatch, variables, expected):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    tracing = build_tracing()
    try:
        if expected is None:
            assert tracing.exporter is None
        else:
            assert isinstance(tracing.exporter, OTLPSpanExporter)
            assert tracing.exporter._endpoint == expected
    finally:
        tracing.shutdown()


def test_sdk_disabled_creates_no_spans(monkeypatch):
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    tracing = build_tracing()
    assert not tracing.enabled
    assert tracing.fastapi_telemetry()["tracing"] is False
