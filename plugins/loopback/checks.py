"""Checking a callee script before anyone runs it (a loopback agent's phone, stored with the
agent and handed to the carrier on every offer), with each problem placed in the list as the
client wrote it rather than in the carrier's expanded steps."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from plugins.loopback.carrier.script import (
    MAX_STEPS,
    SHORTHANDS,
    STEP_NAMES,
    Step,
    expand,
    order_problems,
)

_STEP: TypeAdapter[Any] = TypeAdapter(Step)
_KINDS = ", ".join(sorted(STEP_NAMES))
_SHORT = ", ".join(sorted(SHORTHANDS))


def validate_script(steps: Any) -> list[tuple[str, str]]:
    """The problems of a callee script in its JSON form, each as (where, why): ``where`` is
    ``[i]`` and the field of item ``i`` (0-based, as given: ``[1].seconds``,
    ``[0].answer_after``), or empty for the script as a whole. Empty: the carrier runs it."""
    if not isinstance(steps, list):
        return [("", "a script is a list of steps")]
    if not steps:
        return [("", "a script needs at least one step (answer, busy, no_answer or fail)")]
    if len(steps) > MAX_STEPS:
        return [("", f"a script has at most {MAX_STEPS} steps")]
    problems: list[tuple[str, str]] = []
    parsed: list[Any] = []
    origin: list[int] = []
    for index, item in enumerate(steps):
        for step in expand(item):
            found = _step_problems(item, step)
            problems += [(f"[{index}]{where}", why) for where, why in found]
            if not found:
                parsed.append(_STEP.validate_python(step))
                origin.append(index)
    if not problems:
        problems = [
            (f"[{origin[at]}]" if at is not None else "", why) for at, why in order_problems(parsed)
        ]
    return list(dict.fromkeys(problems))  # a shorthand's two steps can fail alike


def _step_problems(item: Any, step: Any) -> list[tuple[str, str]]:
    """What is wrong with one expanded ``step`` of ``item``, placed within the item."""
    if not isinstance(step, dict):
        return [("", f"a step is an object such as {{'step': 'answer'}}, or one of {_SHORT}")]
    name = step.get("step")
    if name is None:
        return [("", f"give the step (`step`: one of {_KINDS}) or one of {_SHORT}")]
    if not isinstance(name, str) or name not in STEP_NAMES:
        where = "" if isinstance(item, str) else ".step"
        return [(where, f"unknown step {name!r}; a step is one of {_KINDS}, or {_SHORT}")]
    try:
        _STEP.validate_python(step)
    except ValidationError as exc:
        return [_placed(item, error) for error in exc.errors(include_url=False)]
    return []


def _placed(item: Any, error: Any) -> tuple[str, str]:
    """A pydantic error of a step, placed within the item: a shorthand's seconds are its
    key's value (``.answer_after``)."""
    location = [str(part) for part in error["loc"][1:]]  # the first part is the step's tag
    if isinstance(item, dict) and location == ["seconds"] and "step" not in item:
        location = [next(iter(item))]
    return "".join(f".{part}" for part in location), str(error["msg"])
