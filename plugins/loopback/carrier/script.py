"""The scripted callee: what the far end of a loopback call does, step by step.

A script is a list of steps, given per call (``options={"script": [...]}``) or chosen by the
destination number (:func:`script_for_number`). Before the answer the callee may ``ring`` and
``wait``, then it ends the attempt with exactly one of ``answer``, ``busy``, ``no_answer`` or
``fail``. After ``answer`` it may ``wait``, ``say`` something (a transcript segment, and the
answer to a gather listening for speech at that moment), ``press`` digits (they answer the
platform's next gather that listens for keys) and ``hangup``; a callee whose script runs out
stays on the line, silent, until the platform hangs up. See :mod:`plugins.loopback.carrier.program`.

The number a ``dial`` with ``report_outcome`` calls gets a party the same way
(:func:`script_for_number`): its ring, busy, no answer or failure decide the dial's outcome,
and once it answers only its waits and sentences count (the length of the conversation).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from plugins.loopback.config import LoopbackSettings

MAX_STEPS = 200


class _Step(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Ring(_Step):
    step: Literal["ring"] = "ring"
    seconds: float = Field(default=2.0, ge=0, le=600)


class Answer(_Step):
    step: Literal["answer"] = "answer"
    by: Literal["human", "machine"] = "human"


class Busy(_Step):
    step: Literal["busy"] = "busy"


class NoAnswer(_Step):
    """Keep ringing until the caller gives up (``PlaceCall.timeout_seconds``, or the
    ``timeout_seconds`` of the ``dial`` that called the number)."""

    step: Literal["no_answer"] = "no_answer"


class Fail(_Step):
    step: Literal["fail"] = "fail"
    cause: str = Field(default="unallocated_number", pattern=r"^[a-z0-9_]{1,60}$")


class Wait(_Step):
    step: Literal["wait"] = "wait"
    seconds: float = Field(ge=0, le=14400)


class Press(_Step):
    """Key in digits as the answer to the platform's next gather that listens for keys
    (waits until one does)."""

    step: Literal["press"] = "press"
    digits: str = Field(pattern=r"^[0-9*#]{1,64}$")


class Say(_Step):
    """Speak: the carrier reports it as a transcript segment of the ``callee``; it also
    answers a gather that listens for speech if one is open when the callee starts."""

    step: Literal["say"] = "say"
    text: str = Field(min_length=1, max_length=2000)


class Hangup(_Step):
    step: Literal["hangup"] = "hangup"


Step = Annotated[
    Ring | Answer | Busy | NoAnswer | Fail | Wait | Press | Say | Hangup,
    Field(discriminator="step"),
]
STEP_NAMES = frozenset(
    {"ring", "answer", "busy", "no_answer", "fail", "wait", "press", "say", "hangup"}
)
PRE_ANSWER = (Ring, Wait)
OUTCOMES = (Answer, Busy, NoAnswer, Fail)
AFTER_ANSWER = (Wait, Say, Press, Hangup)


class Script(BaseModel):
    """A validated callee script: ``before`` the outcome, the ``outcome``, and what the
    callee does ``after`` answering."""

    model_config = ConfigDict(frozen=True)

    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)

    @field_validator("steps", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        """``"busy"`` is short for ``{"step": "busy"}``."""
        if isinstance(value, list):
            return [{"step": item} if isinstance(item, str) else item for item in value]
        return value

    @model_validator(mode="after")
    def _well_ordered(self) -> Script:
        outcome = self.outcome_index
        for index, step in enumerate(self.steps):
            position = f"step {index + 1} ({step.step})"
            if index < outcome and not isinstance(step, PRE_ANSWER):
                raise ValueError(f"{position}: before the callee answers it can only ring or wait")
            if index > outcome and not isinstance(self.steps[outcome], Answer):
                raise ValueError(f"{position}: nothing can follow {self.steps[outcome].step}")
            if index > outcome and not isinstance(step, AFTER_ANSWER):
                raise ValueError(
                    f"{position}: after answering the callee can only wait, say, press or hangup"
                )
            if isinstance(step, Hangup) and index != len(self.steps) - 1:
                raise ValueError(f"{position}: hangup must be the last step")
        return self

    @property
    def outcome_index(self) -> int:
        for index, step in enumerate(self.steps):
            if isinstance(step, OUTCOMES):
                return index
        raise ValueError("the script needs one of answer, busy, no_answer or fail")

    @property
    def before(self) -> Sequence[Step]:
        return self.steps[: self.outcome_index]

    @property
    def outcome(self) -> Answer | Busy | NoAnswer | Fail:
        step = self.steps[self.outcome_index]
        assert isinstance(step, OUTCOMES)
        return step

    @property
    def after(self) -> Sequence[Step]:
        return self.steps[self.outcome_index + 1 :]


class ScriptError(ValueError):
    """A script that cannot be run; the message says which step and why."""


_ADAPTER = TypeAdapter(Script)


def parse_script(value: Any) -> Script:
    """A script from its JSON form (a list of steps); raises :class:`ScriptError`."""
    try:
        return _ADAPTER.validate_python({"steps": value})
    except ValidationError as exc:
        raise ScriptError(describe(exc)) from None


def describe(exc: ValidationError) -> str:
    """One line per problem, naming the step (1-based) rather than pydantic's path."""
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        location = [str(part) for part in error["loc"]]
        if len(location) >= 2 and location[0] == "steps" and location[1].isdigit():
            where = f"step {int(location[1]) + 1}"
            rest = location[2:]
            if rest and rest[0] in STEP_NAMES:  # the union's tag: the step already says it
                rest = rest[1:]
            where += "".join(f".{part}" for part in rest)
        elif location:
            where = "script" if location == ["steps"] else ".".join(location)
        else:
            where = ""  # the whole script: the message names the step
        message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"{where}: {message}" if where else message)
    return "invalid loopback script: " + "; ".join(lines)


MAGIC_NUMBERS: dict[str, str] = {
    "0001": "busy",
    "0002": "rings until the caller gives up (no answer)",
    "0003": "fails (unallocated_number)",
    "0004": "an answering machine: answers, plays its greeting, hangs up",
    "0005": "a human who presses 1 at the first menu, then listens and hangs up",
    "0006": "a human who says a sentence, then listens and hangs up",
}
"""Destination numbers ending in these digits get these callees (placed calls, and the
numbers a ``dial`` that reports its outcome calls); any other number answers after the
default ring, stays on the line for the default talk time and hangs up."""


def script_for_number(number: str, settings: LoopbackSettings) -> Script:
    """The callee a destination number gets when the call gives no script (and the party
    a ``dial`` that reports its outcome reaches)."""
    ring = Ring(seconds=settings.default_ring_seconds)
    talk = Wait(seconds=settings.default_talk_seconds)
    suffix = number[-4:]
    steps: list[Any]
    if suffix == "0001":
        steps = [Busy()]
    elif suffix == "0002":
        steps = [NoAnswer()]
    elif suffix == "0003":
        steps = [Fail()]
    elif suffix == "0004":
        greeting = "Hi, you have reached the voicemail. Please leave a message after the tone."
        steps = [ring, Answer(by="machine"), Say(text=greeting), talk, Hangup()]
    elif suffix == "0005":
        steps = [ring, Answer(), Press(digits="1"), talk, Hangup()]
    elif suffix == "0006":
        sentence = "Hello, I would like to talk to someone about my order."
        steps = [ring, Answer(), Say(text=sentence), talk, Hangup()]
    else:
        steps = [ring, Answer(), talk, Hangup()]
    return Script(steps=steps)
