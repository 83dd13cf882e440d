"""Outbound-call resilience (kernel-internal): timeouts, retries and per-tenant circuit
breakers around every call to an outside service. Plugins use ``platform.resilience`` and the
errors re-exported by :mod:`kernel`."""
