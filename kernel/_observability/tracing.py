"""OpenTelemetry tracing: one ``TracerProvider`` per platform, exported only when asked.

A provider per platform (never the global one) keeps apps built side by side in one process
(tests, embedding) from sharing spans or exporters. Spans get ids even when nothing exports
them (so that logs and audit records carry a trace id matching the caller's ``traceparent``)
but are recorded only when something does (:class:`ExportGate`; docs/performance.md has the
costs). Export is OTLP over HTTP, configured by the standard ``OTEL_*`` variables and off
unless they ask for it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider, sampling
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, TraceState
from opentelemetry.util.types import Attributes
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Receive, Scope, Send

from kernel._version import __version__

if TYPE_CHECKING:
    from fastapi.telemetry import TelemetryConfig

    from kernel._platform import Platform

logger = logging.getLogger("kraliki.tracing")

DEFAULT_SERVICE_NAME = "kraliki-voice"
TRACES_PATH = "/v1/traces"

# Span attribute names the kernel sets (documented in docs/operations/observability.md).
TENANT_ID = "tenant.id"
PLUGIN_NAME = "plugin.name"
PERMISSION = "kraliki.permission"
PRINCIPAL_KIND = "kraliki.principal.kind"
ACCESS = "kraliki.access"


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def otlp_traces_endpoint(environ: Mapping[str, str]) -> str | None:
    """Where OTLP/HTTP spans go according to ``environ`` (the signal-specific variable wins;
    the generic one is a base URL that gets ``/v1/traces``), or None."""
    specific = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if specific:
        return specific
    base = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    return base.rstrip("/") + TRACES_PATH if base else None


def exporter_from_environment(environ: Mapping[str, str] | None = None) -> SpanExporter | None:
    """The span exporter the standard variables ask for, or None (the default: no export).

    ``OTEL_TRACES_EXPORTER`` picks it (``otlp``, ``console`` or ``none``); unset, an OTLP
    endpoint variable alone turns OTLP on. Only the HTTP transport ships (gRPC would pull in
    grpcio), so ``OTEL_EXPORTER_OTLP_PROTOCOL=grpc`` is refused with a warning.
    """
    env = os.environ if environ is None else environ
    if _true(env.get("OTEL_SDK_DISABLED")):
        return None
    endpoint = otlp_traces_endpoint(env)
    names = [n.strip().lower() for n in env.get("OTEL_TRACES_EXPORTER", "").split(",")]
    names = [n for n in names if n]
    if not names:
        names = ["otlp"] if endpoint else []
    if "console" in names:
        return ConsoleSpanExporter(service_name=service_name(env))
    if "otlp" not in names:
        for name in names:
            if name != "none":
                logger.warning("OTEL_TRACES_EXPORTER=%s is not supported; not exporting", name)
        return None
    protocol = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or ""
    ).strip()
    if protocol and protocol != "http/protobuf":
        logger.warning(
            "OTLP protocol %r is not supported (only http/protobuf); not exporting", protocol
        )
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    # Headers, timeout, compression and certificates come from the standard variables too
    # (the exporter reads them); the endpoint defaults to the local collector.
    return OTLPSpanExporter(endpoint=endpoint or f"http://localhost:4318{TRACES_PATH}")


def service_name(environ: Mapping[str, str]) -> str:
    return environ.get("OTEL_SERVICE_NAME", "").strip() or DEFAULT_SERVICE_NAME


class ExportGate(Sampler):
    """Drops every span (they still get valid ids, inherited from ``traceparent``) until
    something exports them, then defers to the sampler ``OTEL_TRACES_SAMPLER`` chose.

    Unrecorded spans cost little (no attributes, no span object), yet give log lines and
    audit records a trace id that matches the caller's. One sampler object, flipped in place:
    tracers copy their provider's sampler when they are made.
    """

    def __init__(self, configured: Sampler) -> None:
        self.configured = configured
        self.open = False

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if self.open:
            return self.configured.should_sample(
                parent_context, trace_id, name, kind, attributes, links, trace_state
            )
        parent = trace.get_current_span(parent_context).get_span_context()
        return SamplingResult(Decision.DROP, None, parent.trace_state if parent.is_valid else None)

    def get_description(self) -> str:
        state = "open" if self.open else "closed"
        return f"ExportGate({state}, {self.configured.get_description()})"


@dataclass
class Tracing:
    """A platform's tracing: its provider (None when ``OTEL_SDK_DISABLED=true``) and the
    exporter configured from the environment, if any."""

    provider: TracerProvider | None
    exporter: SpanExporter | None = None
    processors: list[SpanProcessor] = field(default_factory=list)
    gate: ExportGate | None = None
    _pending: list[Callable[[TracerProvider], None]] = field(default_factory=list)

    def when_recording(self, instrument: Callable[[TracerProvider], None]) -> None:
        """Run ``instrument`` once spans are recorded (now, or when an exporter is added):
        instrumentation whose spans only matter when exported costs nothing until then."""
        if self.provider is None:
            return
        if self.recording:
            instrument(self.provider)
        else:
            self._pending.append(instrument)

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    @property
    def recording(self) -> bool:
        """Whether spans are recorded (something exports them), not just given ids."""
        return self.gate is not None and self.gate.open

    def add_exporter(self, exporter: SpanExporter) -> SpanProcessor | None:
        """Send this platform's spans to ``exporter`` as they end, and start recording them
        (test seam: attach an ``InMemorySpanExporter``); None when tracing is disabled."""
        return self._add(SimpleSpanProcessor(exporter))

    def _add(self, processor: SpanProcessor) -> SpanProcessor | None:
        if self.provider is None or self.gate is None:
            return None
        self.provider.add_span_processor(processor)
        self.processors.append(processor)
        self.gate.open = True
        pending, self._pending = self._pending, []
        for instrument in pending:
            instrument(self.provider)
        return processor

    def fastapi_telemetry(self) -> TelemetryConfig:
        """FastAPI's native tracing, bound to this provider: one server span per request;
        metrics come from Prometheus and logs from the logging module, so those are off.
        It steps aside while spans are not recorded (:class:`TraceContextMiddleware`)."""
        return {
            "tracer_provider": self.provider,
            "tracing": self.provider is not None,
            "metrics": False,
            "logs": False,
            "operation_spans": False,  # a span per dependency would triple the cost
            "auto_configure": False,  # never touch the global providers
            "exclude": lambda _scope: not self.recording,
        }

    def shutdown(self) -> None:
        """Flush and stop the exporter (on app shutdown)."""
        if self.provider is not None:
            self.provider.shutdown()


def build_tracing(environ: Mapping[str, str] | None = None) -> Tracing:
    """A new provider for one platform, exporting as the environment says."""
    env = os.environ if environ is None else environ
    if _true(env.get("OTEL_SDK_DISABLED")):
        return Tracing(provider=None)
    resource = Resource.create({SERVICE_NAME: service_name(env), SERVICE_VERSION: __version__})
    exporter = exporter_from_environment(env)
    # OTEL_TRACES_SAMPLER applies once something exports (default: parent-based, always on).
    gate = ExportGate(sampling._get_from_env_or_default())
    # Without an exporter there is nothing to flush at exit, and no reason for atexit to
    # hold on to every provider a test run builds.
    provider = TracerProvider(
        sampler=gate, resource=resource, shutdown_on_exit=exporter is not None
    )
    tracing = Tracing(provider=provider, gate=gate)
    if exporter is not None:
        tracing._add(BatchSpanProcessor(exporter))  # OTEL_BSP_* tune it
        tracing.exporter = exporter
    return tracing


class TraceContextMiddleware:
    """Gives each request a span context while spans are not recorded (and FastAPI's tracing
    steps aside): the caller's trace id from ``traceparent`` or a new one, and a span id.

    FastAPI's server span costs about 90 us a request even when dropped (attributes, URL
    parsing, wrapped send and receive); this costs a tenth of that, for the same ids.
    """

    def __init__(self, app: ASGIApp, tracing: Tracing) -> None:
        self.app = app
        self.tracing = tracing
        self.tracer = tracing.provider.get_tracer("kraliki") if tracing.provider else None
        # The headers the configured propagators read (W3C traceparent/tracestate, baggage).
        self.fields = {name.encode("latin-1") for name in propagate.get_global_textmap().fields}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.tracer is None or self.tracing.recording:
            await self.app(scope, receive, send)
            return
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in self.fields
        }
        parent = propagate.extract(carrier) if carrier else None
        span = self.tracer.start_span("request", context=parent, kind=SpanKind.SERVER)
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        try:
            await self.app(scope, receive, send)
        finally:
            otel_context.detach(token)


def instrument_engine(engine: AsyncEngine, tracing: Tracing) -> None:
    """A client span per SQL statement on ``engine``, children of the request's span, once
    spans are recorded (unrecorded, the listeners would still cost ~30 us a statement).

    ``EngineTracer`` is used directly: ``SQLAlchemyInstrumentor().instrument()`` is a process
    singleton that would bind every engine to the first provider (and patch create_engine).
    """

    def instrument(provider: TracerProvider) -> None:
        from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
        from opentelemetry.instrumentation.sqlalchemy.version import (
            __version__ as instrumentation_version,
        )

        tracer = provider.get_tracer(
            "opentelemetry.instrumentation.sqlalchemy", instrumentation_version
        )
        usage = NoOpMeterProvider().get_meter("kraliki").create_up_down_counter("unused")
        EngineTracer(tracer, engine.sync_engine, usage)  # type: ignore[no-untyped-call]

    tracing.when_recording(instrument)


def instrument_httpx_client(
    client: httpx.AsyncClient | httpx.Client, provider: trace.TracerProvider | None
) -> None:
    """A client span per request of ``client``, with ``traceparent`` sent along (any
    provider; tests use it on their own clients). Idempotent."""
    if provider is None or getattr(client, "_is_instrumented_by_opentelemetry", False):
        return
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor.instrument_client(
        client, tracer_provider=provider, meter_provider=NoOpMeterProvider()
    )


def instrument_http_client(client: httpx.AsyncClient, platform: Platform) -> None:
    """Trace the outbound requests of ``client`` with ``platform``'s provider (call it on
    every ``httpx.AsyncClient`` the kernel builds for outbound calls)."""
    instrument_httpx_client(client, platform.tracing.provider)


def current_trace_ids() -> tuple[str | None, str | None]:
    """(trace id, span id) of the current span as lowercase hex, or (None, None) outside
    a trace (e.g. for audit records and log lines)."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None, None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def annotate_span(attributes: Mapping[str, Any]) -> None:
    """Set attributes on the current span (the request's server span inside a route's
    dependencies). Only identifiers: never tokens, e-mails or other secrets."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes({k: v for k, v in attributes.items() if v is not None})
