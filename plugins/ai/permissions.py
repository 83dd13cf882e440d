"""Permissions of the ai plugin (tenant-scoped).

Settings decide what leaves the platform (providers, redaction, prompt logging), so only
admins change them; supervisors may read usage and health to see what the AI costs and how
it behaves; anyone who works the calls may ask the model directly (``ai:generate``)."""

from __future__ import annotations

from kernel import Permission

AI_SETTINGS_READ = Permission(
    "ai.settings",
    "read",
    "See the organization's AI settings: providers and models per task, fallback order, "
    "instructions, redaction, prompt logging, budget.",
    ("admin", "supervisor"),
)
AI_SETTINGS_WRITE = Permission(
    "ai.settings",
    "write",
    "Change the AI settings (what data may leave the platform, to which provider, at what budget).",
    ("admin",),
)
AI_USAGE_READ = Permission(
    "ai.usage",
    "read",
    "See AI usage (tokens, estimated cost) and the budget's status.",
    ("admin", "supervisor"),
)
AI_HEALTH_READ = Permission(
    "ai.health",
    "read",
    "See the model providers, the AI tasks, and each provider's health (breaker, error rate, "
    "latency, last error).",
    ("admin", "supervisor"),
)
AI_HEALTH_RESET = Permission(
    "ai.health",
    "reset",
    "Reset a model provider's circuit breaker for the organization.",
    ("admin",),
)
AI_GENERATE = Permission(
    "ai",
    "generate",
    "Ask the organization's model a prompt of your own (metered as plugin ai, task generate).",
    ("admin", "supervisor", "agent"),
)
PERMISSIONS = [
    AI_SETTINGS_READ,
    AI_SETTINGS_WRITE,
    AI_USAGE_READ,
    AI_HEALTH_READ,
    AI_HEALTH_RESET,
    AI_GENERATE,
]
