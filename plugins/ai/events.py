"""Events the ai plugin publishes (catalogue in ``docs/events.md``): the monthly budget's
soft warning and hard stop, each at most once per tenant and calendar month (UTC)."""

from __future__ import annotations

from kernel import Event


class BudgetEvent(Event):
    permission = "ai.usage:read"

    month: str
    """The calendar month (UTC), ``2026-12``."""
    spent: str
    """Estimated spend this month, US dollars (a decimal string)."""
    budget: str
    """The monthly budget, US dollars (a decimal string)."""
    percent: float
    """``spent`` as a percentage of ``budget``."""


class BudgetWarning(BudgetEvent):
    name = "ai.budget.warning"
    description = (
        "The month's estimated AI spend crossed the tenant's warning threshold "
        "(`budget_warning_percent` of the monthly budget). Once per month."
    )

    warning_percent: int


class BudgetExhausted(BudgetEvent):
    name = "ai.budget.exhausted"
    description = (
        "The month's estimated AI spend reached the monthly budget: until the month ends or "
        "the budget is raised, every task is answered by the offline provider. Once per month."
    )


EVENT_TYPES: list[type[Event]] = [BudgetWarning, BudgetExhausted]
