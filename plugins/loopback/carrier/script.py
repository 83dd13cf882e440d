"""The scripted callee: what the far end of a loopback call does, step by step.

A script is a list of steps, given per call (``options={"script": [...]}``) or chosen by the
destination number (:func:`script_for_number`). Before the answer the callee may ``ring`` and
``wait``, then it ends the attempt with exactly one of ``answer``, ``busy``, ``no_answer`` or
``fail``. After ``answer`` it may ``wait``, ``say`` something (a transcript segment, and the
answer to a gather listening for speech at that moment), ``press`` digits (they answer the
platform's next gather that listens for keys), key a test card into a payment capture
(``pay``), take a test card in hand for an agent's capture (``card``) and ``hangup``; a callee
whose script runs out stays on the line, silent, until the platform hangs up. See
:mod:`plugins.loopback.carrier.program`.

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
    """Pick up, as a person or an answering machine. A machine's greeting is the ``say``
    steps right after the answer; ``beep`` ends it (then it records what it hears). A call
    placed with asynchronous detection learns who answered ``detect_after`` simulated
    seconds after the answer (a machine's verdict with message end: at its greeting's end)."""

    step: Literal["answer"] = "answer"
    by: Literal["human", "machine"] = "human"
    detect_after: float = Field(default=2.5, ge=0, le=60)
    beep: bool = True


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


TestCard = Literal["visa", "mastercard", "declined", "cancel"]


class PayCard(_Step):
    """Key a test card into the platform's next payment capture (waits until one is open):
    ``visa`` and ``mastercard`` are charged by loopback's simulated connector, ``declined``
    is refused by it, ``cancel`` presses star to give up. No card number is ever typed in a
    script: loopback's connector knows its test cards by name."""

    step: Literal["pay"] = "pay"
    card: TestCard = "visa"


class Card(_Step):
    """Take a test card in hand: the one the callee keys, field by field, when an agent asks
    for card details (an agent-assisted capture, :mod:`plugins.loopback.carrier.capture`)
    from now on. Takes no time and waits for nothing; a ``pay`` step does the same before it
    waits. A callee that reached neither holds ``visa``."""

    step: Literal["card"] = "card"
    card: TestCard = "visa"


class Hangup(_Step):
    step: Literal["hangup"] = "hangup"


Step = Annotated[
    Ring | Answer | Busy | NoAnswer | Fail | Wait | Press | Say | PayCard | Card | Hangup,
    Field(discriminator="step"),
]
STEP_NAMES = frozenset(
    {
        "ring",
        "answer",
        "busy",
        "no_answer",
        "fail",
        "wait",
        "press",
        "say",
        "pay",
        "card",
        "hangup",
    }
)
SHORTHANDS: dict[str, tuple[str, str]] = {
    "answer_after": ("ring", "answer"),
    "decline_after": ("ring", "busy"),
    "hangup_after": ("wait", "hangup"),
}
"""One-key steps that stand for two, as a simulated agent's phone is described (``{"answer_
after": 2}`` rings 2 s then answers; ``decline_after`` rings then rejects the call as busy;
``hangup_after`` talks that long, then hangs up)."""
PRE_ANSWER = (Ring, Wait)
OUTCOMES = (Answer, Busy, NoAnswer, Fail)
AFTER_ANSWER = (Wait, Say, Press, PayCard, Card, Hangup)


NO_OUTCOME = "the script needs one of answer, busy, no_answer or fail"


def expand(item: Any) -> list[Any]:
    """The steps one item of a script's JSON form stands for: ``"busy"`` is short for
    ``{"step": "busy"}``; ``{"answer_after": 2}`` and the other :data:`SHORTHANDS` stand for
    two steps; anything else is itself."""
    if isinstance(item, str):
        return [{"step": item}]
    if isinstance(item, dict) and len(item) == 1 and next(iter(item)) in SHORTHANDS:
        [(name, seconds)] = item.items()
        first, second = SHORTHANDS[name]
        return [{"step": first, "seconds": seconds}, {"step": second}]
    return [item]


def _outcome_index(steps: Sequence[_Step]) -> int | None:
    for index, step in enumerate(steps):
        if isinstance(step, OUTCOMES):
            return index
    return None


def order_problems(steps: Sequence[_Step]) -> list[tuple[int | None, str]]:
    """What is out of order in valid steps, each as (the step's index, or None for the
    script as a whole, and why); empty when the script can run."""
    outcome = _outcome_index(steps)
    if outcome is None:
        return [(None, NO_OUTCOME)]
    problems: list[tuple[int | None, str]] = []
    for index, step in enumerate(steps):
        if index < outcome and not isinstance(step, PRE_ANSWER):
            problems.append((index, "before the callee answers it can only ring or wait"))
        elif index > outcome and not isinstance(steps[outcome], Answer):
            problems.append((index, f"nothing can follow {getattr(steps[outcome], 'step', '')}"))
        elif index > outcome and not isinstance(step, AFTER_ANSWER):
            problems.append(
                (index, "after answering the callee can only wait, say, press, pay, card or hangup")
            )
        elif isinstance(step, Hangup) and index != len(steps) - 1:
            problems.append((index, "hangup must be the last step"))
    return problems


class Script(BaseModel):
    """A validated callee script: ``before`` the outcome, the ``outcome``, and what the
    callee does ``after`` answering."""

    model_config = ConfigDict(frozen=True)

    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)

    @field_validator("steps", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        """``"busy"`` is short for ``{"step": "busy"}``; ``{"answer_after": 2}`` and the
        other :data:`SHORTHANDS` stand for two steps."""
        if not isinstance(value, list):
            return value
        return [step for item in value for step in expand(item)]

    @model_validator(mode="after")
    def _well_ordered(self) -> Script:
        for index, message in order_problems(self.steps)[:1]:
            if index is None:
                raise ValueError(message)
            raise ValueError(f"step {index + 1} ({self.steps[index].step}): {message}")
        return self

    @property
    def outcome_index(self) -> int:
        index = _outcome_index(self.steps)
        if index is None:
            raise ValueError(NO_OUTCOME)
        return index

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


CALLER_STEPS = frozenset({"wait", "press", "say", "pay", "card", "hangup", "hangup_after"})
"""What the caller of an inbound call does once the platform answered (its only outcome)."""


def parse_caller_script(value: Any) -> Script:
    """The script of an inbound call's caller from its JSON form: the steps after the
    platform answers (``wait``, ``press``, ``say``, ``pay``, ``card``, ``hangup``; empty: the
    caller stays on the line, silent). Raises :class:`ScriptError`."""
    if not isinstance(value, list):
        raise ScriptError("invalid loopback script: script: a list of steps")
    for index, item in enumerate(value):
        name = item if isinstance(item, str) else None
        if isinstance(item, dict):
            name = item.get("step") if "step" in item else next(iter(item), None)
        if name not in CALLER_STEPS:
            raise ScriptError(
                f"invalid loopback script: step {index + 1}: the caller of an inbound call can "
                "only wait, press, say, pay, card or hangup (the platform answers the call)"
            )
        if name in ("hangup", "hangup_after") and index != len(value) - 1:
            raise ScriptError(
                f"invalid loopback script: step {index + 1} ({name}): hangup must be the last step"
            )
    try:
        return _ADAPTER.validate_python({"steps": [{"step": "answer"}, *value]})
    except ValidationError as exc:
        raise ScriptError(describe(exc, skipped=1)) from None


def describe(exc: ValidationError, *, skipped: int = 0) -> str:
    """One line per problem, naming the step (1-based) rather than pydantic's path;
    ``skipped`` steps were put before the ones the user wrote."""
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        location = [str(part) for part in error["loc"]]
        if len(location) >= 2 and location[0] == "steps" and location[1].isdigit():
            where = f"step {int(location[1]) + 1 - skipped}"
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
