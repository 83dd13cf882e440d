"""Observability (kernel-internal): tracing, structured logs and Prometheus metrics.

``tracing`` owns each platform's OpenTelemetry provider, ``logging`` the log format and its
redaction, ``metrics`` the request middleware and the ``/metrics`` endpoint.
"""
