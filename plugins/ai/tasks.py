"""What the gateway is asked to do: tasks plugins declare through ``kraliki_ai_tasks``.

A task names a use of a model (``sentiment``, ``summary``, ``assist.reply``). Tenants choose a
provider and model per task; the offline provider answers a task with the task's own
``offline`` function, deterministic and local, so every task works with no key.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from plugins.ai.provider import ChatRequest

TASK_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")

OfflineAnswer = Callable[[ChatRequest], Awaitable[str]]
"""Answers a request locally: plain text, or a JSON document of ``request.output_schema``."""


@dataclass(frozen=True, slots=True)
class AiTask:
    name: str
    description: str
    offline: OfflineAnswer
    """How the offline provider answers this task."""
