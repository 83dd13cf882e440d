"""The ``summary`` task's input and output: what a model (or the offline summariser) reads
and answers.

The prompt carries everything: the transcript as ``speaker: text`` lines and the tenant's
disposition codes, under fixed headings, so an LLM and the offline function see the same
input and the offline function can parse it back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

TASK = "summary"
CODES_HEADING = "## Disposition codes"
TRANSCRIPT_HEADING = "## Transcript"
OUTCOMES = ("resolved", "unresolved", "callback", "escalated", "unknown")

SYSTEM = (
    "You summarise contact-center calls for the agent's wrap-up and the call's record. "
    "Answer with the JSON object asked for, nothing else. `summary`: two or three sentences "
    "of what happened. `reason`: why the customer called, in one sentence. `outcome`: "
    "resolved, unresolved, callback (someone will call back), escalated (handed to a "
    "supervisor, another team or department) or unknown. `suggested_disposition`: exactly "
    "one of the listed disposition codes that fits, or null when none is listed or none "
    "fits. `follow_ups`: short actions someone promised or must take (empty when none)."
)


class CallSummary(BaseModel):
    """What the ``summary`` task answers (the output model asked of the gateway)."""

    summary: str = Field(description="What happened on the call, in a few sentences.")
    reason: str = Field(description="Why the customer called.")
    outcome: Literal["resolved", "unresolved", "callback", "escalated", "unknown"] = Field(
        description="How the call ended for the customer."
    )
    suggested_disposition: str | None = Field(
        default=None, description="One of the tenant's disposition codes, or null."
    )
    follow_ups: list[str] = Field(default_factory=list, description="Short actions to take.")


@dataclass(frozen=True, slots=True)
class Line:
    """One utterance: ``customer`` or ``agent`` (or a provider's own label) and its text."""

    speaker: str
    text: str


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    label: str = ""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def build_prompt(lines: Sequence[Line], codes: Sequence[Code]) -> str:
    """The user message of the ``summary`` task."""
    parts = ["Summarise this call.", "", CODES_HEADING]
    if codes:
        parts += [
            f"- {code.code}" + (f": {_one_line(code.label)}" if code.label else "")
            for code in codes
        ]
    else:
        parts.append("(none)")
    parts += ["", TRANSCRIPT_HEADING]
    parts += [f"{line.speaker}: {_one_line(line.text)}" for line in lines]
    return "\n".join(parts)


def parse_prompt(prompt: str) -> tuple[list[Line], list[Code]]:
    """The transcript and codes :func:`build_prompt` wrote (what the offline model reads)."""
    lines: list[Line] = []
    codes: list[Code] = []
    section = ""
    for raw in prompt.splitlines():
        text = raw.strip()
        if text in (CODES_HEADING, TRANSCRIPT_HEADING):
            section = text
            continue
        if not text:
            continue
        if section == CODES_HEADING and text.startswith("- "):
            code, _, label = text[2:].partition(":")
            codes.append(Code(code.strip(), label.strip()))
        elif section == TRANSCRIPT_HEADING:
            speaker, colon, said = text.partition(":")
            if colon and said.strip():
                lines.append(Line(speaker.strip().lower(), said.strip()))
    return lines, codes
