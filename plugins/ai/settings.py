"""A tenant's AI settings: read (cached briefly per worker, the gateway reads them on every
request), validated and written.

The cache holds a tenant's settings for :data:`CACHE_SECONDS`; a change made through this
worker drops it at once, other workers see it within that time.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, StateKey
from plugins.ai.models import AiSettingsRow
from plugins.ai.offline.provider import OFFLINE
from plugins.ai.redaction import PatternError, Redactor, check_pattern, redactor
from plugins.ai.registry import AiState

CACHE_SECONDS = 5.0
PATTERN_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


class AiRoute(BaseModel):
    provider: str = Field(min_length=1, max_length=64)
    model: str | None = Field(
        default=None, max_length=128, description="None: the provider's default chat model."
    )


class AiRedactionPattern(BaseModel):
    name: str = Field(
        min_length=1, max_length=40, description="Lower case; the mask is `[<name>]`."
    )
    regex: str = Field(min_length=1, max_length=300, description="A Python regular expression.")


class AiSettingsIn(BaseModel):
    routes: dict[str, AiRoute] = Field(
        default_factory=dict,
        description="Per task (`GET /api/v1/ai/tasks`): the provider and model answering it; "
        "a task not named here is answered by the offline provider.",
    )
    fallback: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="Providers tried, in order, when a task's own cannot answer; offline is "
        "always the implicit last.",
    )
    instructions: str = Field(
        default="",
        max_length=8000,
        description="The organization's system prompt / glossary, added to every request.",
    )
    redaction: bool = Field(
        default=True, description="Mask card numbers, bank details and `redaction_patterns`."
    )
    redaction_patterns: list[AiRedactionPattern] = Field(default_factory=list, max_length=50)
    log_prompts: bool = Field(
        default=False, description="Log prompts and answers (redacted); off: never logged."
    )
    monthly_budget: Decimal | None = Field(
        default=None,
        ge=0,
        max_digits=12,
        decimal_places=2,
        description="US dollars per calendar month (UTC); null: no budget.",
    )
    budget_warning_percent: int = Field(default=80, ge=1, le=100)


class AiSettingsOut(AiSettingsIn):
    currency: str = "USD"
    version: int = 0
    """0: never saved (the defaults)."""


@dataclass(frozen=True)
class TenantSettings:
    """What the gateway needs, parsed once per cache period."""

    routes: dict[str, AiRoute] = field(default_factory=dict)
    fallback: tuple[str, ...] = ()
    instructions: str = ""
    redaction: bool = True
    redact: Redactor = field(default_factory=Redactor)
    log_prompts: bool = False
    monthly_budget: Decimal | None = None
    budget_warning_percent: int = 80
    version: int = 0

    def out(self) -> AiSettingsOut:
        return AiSettingsOut(
            routes=self.routes,
            fallback=list(self.fallback),
            instructions=self.instructions,
            redaction=self.redaction,
            redaction_patterns=[
                AiRedactionPattern(name=p.name, regex=p.pattern.pattern)
                for p in self.redact.patterns
            ],
            log_prompts=self.log_prompts,
            monthly_budget=self.monthly_budget,
            budget_warning_percent=self.budget_warning_percent,
            version=self.version,
        )


def of_row(row: AiSettingsRow | None) -> TenantSettings:
    if row is None:
        return TenantSettings()
    return TenantSettings(
        routes={task: AiRoute.model_validate(route) for task, route in (row.routes or {}).items()},
        fallback=tuple(row.fallback or ()),
        instructions=row.instructions,
        redaction=row.redaction,
        redact=redactor(row.redaction_patterns or []),
        log_prompts=row.log_prompts,
        monthly_budget=row.monthly_budget,
        budget_warning_percent=row.budget_warning_percent,
        version=row.version,
    )


@dataclass
class SettingsCache:
    entries: dict[uuid.UUID, tuple[float, TenantSettings]] = field(default_factory=dict)

    def drop(self, tenant_id: uuid.UUID) -> None:
        self.entries.pop(tenant_id, None)


SETTINGS_CACHE = StateKey[SettingsCache]("ai.settings_cache")


def cache_of(platform: Platform) -> SettingsCache:
    if not SETTINGS_CACHE.is_set(platform):
        return SETTINGS_CACHE.set(platform, SettingsCache())
    return SETTINGS_CACHE.get(platform)


async def tenant_settings(platform: Platform, tenant_id: uuid.UUID) -> TenantSettings:
    """The tenant's settings, from this worker's cache when fresh."""
    cache = cache_of(platform)
    now = time.monotonic()
    hit = cache.entries.get(tenant_id)
    if hit is not None and hit[0] > now:
        return hit[1]
    async with platform.database.session() as session:
        settings = of_row(await session.scalar(select(AiSettingsRow)))
    cache.entries[tenant_id] = (now + CACHE_SECONDS, settings)
    return settings


def problems_of(body: AiSettingsIn, state: AiState) -> list[dict[str, Any]]:
    """What is wrong with ``body`` against the loaded providers and tasks."""
    errors: list[dict[str, Any]] = []
    known = set(state.providers) | {OFFLINE}
    for task, route in body.routes.items():
        if task not in state.tasks:
            errors.append({"loc": ["routes", task], "message": f"no task named {task!r}"})
        if route.provider not in known:
            errors.append(
                {
                    "loc": ["routes", task, "provider"],
                    "message": f"no model provider named {route.provider!r}",
                }
            )
    for index, name in enumerate(body.fallback):
        if name not in known:
            errors.append(
                {"loc": ["fallback", index], "message": f"no model provider named {name!r}"}
            )
    seen: set[str] = set()
    for index, pattern in enumerate(body.redaction_patterns):
        if not PATTERN_NAME.match(pattern.name):
            errors.append(
                {
                    "loc": ["redaction_patterns", index, "name"],
                    "message": "lower case letters, digits, '_' and '-', starting with a letter",
                }
            )
        elif pattern.name in seen:
            errors.append({"loc": ["redaction_patterns", index, "name"], "message": "named twice"})
        seen.add(pattern.name)
        try:
            check_pattern(pattern.regex)
        except PatternError as exc:
            errors.append({"loc": ["redaction_patterns", index, "regex"], "message": str(exc)})
    return errors


async def save(session: AsyncSession, body: AiSettingsIn) -> AiSettingsRow:
    """Write the settings (replacing them all); the caller commits."""
    row = await session.scalar(select(AiSettingsRow))
    values: dict[str, Any] = {
        "routes": {task: route.model_dump() for task, route in body.routes.items()},
        "fallback": list(body.fallback),
        "instructions": body.instructions,
        "redaction": body.redaction,
        "redaction_patterns": [p.model_dump() for p in body.redaction_patterns],
        "log_prompts": body.log_prompts,
        "monthly_budget": body.monthly_budget,
        "budget_warning_percent": body.budget_warning_percent,
    }
    if row is None:
        row = AiSettingsRow(**values, version=1)
        session.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
        row.version += 1
    await session.flush()
    return row
