"""The public API of the ``summaries`` plugin: the summary's shape (what the ``summary`` AI
task answers), its table and statuses, and the permissions. Everything else in
``plugins.summaries`` is private. See ``docs/plugins/summaries.md``."""

from __future__ import annotations

from plugins.summaries.models import CallSummaryRow, Outcome, SummaryStatus
from plugins.summaries.permissions import PERMISSIONS, SUMMARIES_READ, SUMMARIES_WRITE
from plugins.summaries.prompt import TASK, CallSummary

__all__ = [
    "PERMISSIONS",
    "SUMMARIES_READ",
    "SUMMARIES_WRITE",
    "TASK",
    "CallSummary",
    "CallSummaryRow",
    "Outcome",
    "SummaryStatus",
]
