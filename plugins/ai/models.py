"""The ai plugin's tables: each tenant's AI settings and its metered usage.

Tenant-owned. ``ai_usage`` holds one row per tenant, UTC day, plugin, task, provider and
model, incremented in place (an upsert): the month's spend is the sum of the month's rows.
Cost is stored in nano-dollars (an integer) so sums are exact on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kernel import Base, TenantOwnedMixin, TimestampMixin


class AiSettingsRow(TenantOwnedMixin, TimestampMixin, Base):
    """One row per tenant; missing: the defaults (every task offline, redaction on)."""

    __tablename__ = "ai_settings"

    routes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Task name -> ``{"provider": ..., "model": ...}``."""
    fallback: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Provider names tried after a task's own; offline is always the implicit last."""
    instructions: Mapped[str] = mapped_column(Text, default="")
    redaction: Mapped[bool] = mapped_column(Boolean, default=True)
    redaction_patterns: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    log_prompts: Mapped[bool] = mapped_column(Boolean, default=False)
    monthly_budget: Mapped[Decimal | None] = mapped_column(
        Numeric(12, 2, asdecimal=True), nullable=True
    )
    """US dollars per calendar month (UTC); None: no budget."""
    budget_warning_percent: Mapped[int] = mapped_column(Integer, default=80)
    budget_warned_for: Mapped[str | None] = mapped_column(String(7), nullable=True)
    """The month (``2026-12``) ``ai.budget.warning`` was published for: once a month."""
    budget_exhausted_for: Mapped[str | None] = mapped_column(String(7), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)


class AiUsageRow(TenantOwnedMixin, Base):
    """What one (plugin, task, provider, model) used on one UTC day."""

    __tablename__ = "ai_usage"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    plugin: Mapped[str] = mapped_column(String(64), primary_key=True)
    task: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(128), primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_nanos: Mapped[int] = mapped_column(BigInteger, default=0)
    """Estimated cost in billionths of a US dollar (from the provider's list prices)."""
    unpriced: Mapped[int] = mapped_column(BigInteger, default=0)
    """Requests to a model the provider lists no price for (metered at zero)."""


MODELS: list[type] = [AiSettingsRow, AiUsageRow]
