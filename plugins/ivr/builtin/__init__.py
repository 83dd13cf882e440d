"""The node types the IVR ships with; each module holds a few related ones."""

from __future__ import annotations

from plugins.ivr.builtin.endings import ENDING_TYPES
from plugins.ivr.builtin.input import INPUT_TYPES
from plugins.ivr.builtin.logic import LOGIC_TYPES
from plugins.ivr.builtin.lookup import LOOKUP_TYPES
from plugins.ivr.builtin.prompts import PROMPT_TYPES
from plugins.ivr.nodes import NodeType

BUILTIN_TYPES: tuple[NodeType, ...] = (
    *PROMPT_TYPES,
    *INPUT_TYPES,
    *LOGIC_TYPES,
    *LOOKUP_TYPES,
    *ENDING_TYPES,
)
