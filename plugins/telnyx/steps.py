"""Reshaping provider-neutral instructions into steps Call Control can run one at a time.

Telnyx speaks at most 3,000 characters per command and gathers with one prompt (text, SSML
or one audio file), so long texts are split and a mixed gather prompt is run as steps of its
own before a gather that keeps only its last prompt. What remains travels in
``client_state`` in a compact JSON form (defaults left out).

Call Control's gather commands collect DTMF only: a gather that listens for keys and speech
gathers keys, and one that listens for speech alone is refused before anything is sent
(:func:`refuse_unsupported`), so a script never stops halfway at a step Telnyx cannot run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from xml.sax.saxutils import escape

from plugins.calls import (
    Dial,
    Gather,
    Instruction,
    InstructionList,
    Pause,
    Play,
    ProviderRefused,
    Say,
)

MAX_SPEECH = 3000
"""Telnyx's limit on a ``speak`` or ``gather_using_speak`` payload, in characters."""
MAX_SSML_BREAK = 10
"""Seconds: longer SSML breaks are not honoured by every voice."""


def parse(instructions: Sequence[Any]) -> list[Instruction]:
    """Instruction models or their JSON, validated."""
    return list(InstructionList.model_validate({"steps": list(instructions)}).steps)


def refuse_unsupported(steps: Iterable[Instruction]) -> None:
    """Raise :class:`ProviderRefused` for a gather that listens for speech only: Telnyx has no
    speech recognition in its gather commands (no ``speech-recognition`` capability)."""
    for index, step in enumerate(steps):
        if isinstance(step, Gather) and not step.dtmf:
            raise ProviderRefused(
                f"step {index + 1}: Telnyx gathers digits only, not speech; "
                "let the gather listen for keys (dtmf) too",
                code="speech-not-supported",
            )


def normalize(steps: Iterable[Instruction]) -> list[Instruction]:
    """Steps that each map to exactly one command; none after a dial that reports its
    outcome (the platform's answer to that report is what runs next)."""
    out: list[Instruction] = []
    for step in steps:
        if isinstance(step, Say):
            out.extend(split_say(step))
        elif isinstance(step, Gather):
            out.extend(_expand_gather(step))
        else:
            out.append(step)
            if isinstance(step, Dial) and step.report_outcome:
                break
    return out


def split_say(say: Say) -> list[Say]:
    """A text longer than Telnyx speaks at once, as several Says cut at sentence or word
    boundaries."""
    if len(say.text) <= MAX_SPEECH:
        return [say]
    pieces: list[Say] = []
    text = say.text
    while len(text) > MAX_SPEECH:
        window = text[:MAX_SPEECH]
        cut = max(window.rfind(". "), window.rfind("? "), window.rfind("! "))
        cut = cut + 1 if cut > MAX_SPEECH // 2 else window.rfind(" ")
        cut = cut if cut > 0 else MAX_SPEECH
        pieces.append(say.model_copy(update={"text": text[:cut].strip()}))
        text = text[cut:].strip()
    if text:
        pieces.append(say.model_copy(update={"text": text}))
    return pieces


def speech(prompt: Sequence[Say | Play | Pause]) -> tuple[str, str] | None:
    """(payload, payload type) when the prompt is speech one gather can say: Says in one
    voice and language, with short pauses between them; else None."""
    says = [step for step in prompt if isinstance(step, Say)]
    if not says or any(isinstance(step, Play) for step in prompt):
        return None
    if len({(say.voice, say.language) for say in says}) > 1:
        return None
    if any(isinstance(step, Pause) and step.seconds > MAX_SSML_BREAK for step in prompt):
        return None
    if len(prompt) == 1:
        return (says[0].text, "text") if len(says[0].text) <= MAX_SPEECH else None
    parts = [
        escape(step.text) if isinstance(step, Say) else f'<break time="{step.seconds}s"/>'
        for step in prompt
        if isinstance(step, Say | Pause)
    ]
    ssml = f"<speak>{' '.join(parts)}</speak>"
    return (ssml, "ssml") if len(ssml) <= MAX_SPEECH else None


def _expand_gather(gather: Gather) -> list[Instruction]:
    prompt: list[Say | Play | Pause] = []
    for step in gather.prompt:
        prompt.extend(split_say(step) if isinstance(step, Say) else [step])
    if not prompt or speech(prompt) is not None:
        return [gather.model_copy(update={"prompt": prompt})]
    if len(prompt) == 1 and isinstance(prompt[0], Play):
        return [gather]
    *lead, last = prompt
    if isinstance(last, Pause):
        return [*prompt, gather.model_copy(update={"prompt": []})]
    return [*lead, gather.model_copy(update={"prompt": [last]})]


def compact(step: Instruction | Say | Play | Pause) -> dict[str, Any]:
    """The step's JSON without its defaults (``kind`` kept): more steps fit in a state."""
    data = step.model_dump(mode="json", exclude_defaults=True)
    data["kind"] = step.kind
    if isinstance(step, Gather) and step.prompt:
        data["prompt"] = [compact(item) for item in step.prompt]
    return data
