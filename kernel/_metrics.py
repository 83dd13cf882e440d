"""Prometheus metrics: one registry per platform, so two apps in one process (tests, embedding)
never mix their figures. ``/metrics`` renders ``platform.metrics.registry``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Seconds; covers a cached GET (~1 ms) to a slow provider round trip.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

BREAKER_STATE_VALUES = {"closed": 0, "half-opened": 1, "opened": 2}
"""Gauge encoding of a circuit breaker's state (``kraliki_breaker_state``)."""


class Metrics:
    """Every metric the kernel records. Labels never carry secrets or free text: tenant ids,
    plugin and dependency names, route templates (not raw paths), status codes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "kraliki_http_requests",
            "HTTP requests answered, per route template, method and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.request_latency = Histogram(
            "kraliki_http_request_duration_seconds",
            "Time to answer an HTTP request, per route template and method.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.hook_failures = Counter(
            "kraliki_hook_failures",
            "Plugin hook implementations that raised (the caller went on).",
            ["plugin", "hook"],
            registry=self.registry,
        )
        self.breaker_state = Gauge(
            "kraliki_breaker_state",
            "Circuit breaker state per tenant and dependency: 0 closed, 1 half-open, 2 open.",
            ["tenant", "dependency"],
            registry=self.registry,
        )
        self.breaker_transitions = Counter(
            "kraliki_breaker_transitions",
            "Circuit breaker state changes per dependency and new state.",
            ["dependency", "state"],
            registry=self.registry,
        )
        self.outbound_calls = Counter(
            "kraliki_outbound_calls",
            "Outbound calls through the resilience helper per dependency and outcome "
            "(ok, transient, rejected, circuit_open, error).",
            ["dependency", "outcome"],
            registry=self.registry,
        )
        self.outbound_retries = Counter(
            "kraliki_outbound_retries",
            "Retries of outbound calls after a transient failure, per dependency.",
            ["dependency"],
            registry=self.registry,
        )
        self.vault_decryptions = Counter(
            "kraliki_vault_decryptions",
            "Secrets decrypted for use, per secret name (never the value).",
            ["secret"],
            registry=self.registry,
        )
        self.vault_secret_cache_hits = Counter(
            "kraliki_vault_secret_cache_hits",
            "Uses of a secret served from the worker's cache of decrypted secrets (each fill "
            "is a decryption, counted and audited as such), per secret name.",
            ["secret"],
            registry=self.registry,
        )
        self.events_dispatched = Counter(
            "kraliki_events_dispatched",
            "Events delivered by this worker's dispatcher, per event name.",
            ["event"],
            registry=self.registry,
        )
        self.events_relayed = Counter(
            "kraliki_events_relayed",
            "Events this worker relayed to NATS JetStream (KRALIKI_EVENT_TRANSPORT=nats), per "
            "outcome: published, or duplicate (JetStream already held it: a re-relay).",
            ["outcome"],
            registry=self.registry,
        )
        self.event_lag = Histogram(
            "kraliki_event_dispatch_lag_seconds",
            "Time from publication to dispatch.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.realtime_connections = Gauge(
            "kraliki_realtime_connections",
            "Open real-time connections on this worker, per transport (websocket, sse).",
            ["transport"],
            registry=self.registry,
        )
        self.realtime_dropped = Counter(
            "kraliki_realtime_dropped",
            "Real-time connections closed for falling too far behind, per transport.",
            ["transport"],
            registry=self.registry,
        )
        self.jobs_run = Counter(
            "kraliki_jobs_run",
            "Job runs per topic and outcome (ok, failed).",
            ["topic", "outcome"],
            registry=self.registry,
        )
        self.shared_state_fallbacks = Counter(
            "kraliki_shared_state_fallbacks",
            "Decisions served from this worker's own state because Redis was unreachable, "
            "per component (rate_limit, throttle, breaker).",
            ["component"],
            registry=self.registry,
        )
        self.db_disconnects = Counter(
            "kraliki_db_disconnects",
            "Database connections found dead and replaced, per where it was noticed "
            "(checkout: by the pool's pre-ping; statement: under a statement, which failed).",
            ["detected_at"],
            registry=self.registry,
        )
