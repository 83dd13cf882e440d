"""State shared between workers and hosts through Redis when ``KRALIKI_REDIS_URL`` is set:
request rate limits, attempt throttles and circuit breakers (ADR 0032). Without it every
worker keeps its own, as before."""
