"""The simulator: a flow run against a scripted caller, with no provider and no call.

It drives the same engine a real call does. Each time the flow listens (a gather or a menu)
the next script step answers: digits, speech, silence, or a hang-up. A transfer takes the
next step when it is a ``transfer`` outcome (answered, busy, no-answer, failed), and is
answered otherwise. Other waits (recording a voicemail) go on without using a step. HTTP
lookups are answered from the script's ``lookups`` when it has an answer for the node, and
made for real otherwise (the platform's outbound rules apply). The result is the path, the
prompts spoken, the variables and the outcome, which saved tests compare with what they
expect, and the effects the flow's nodes declared (listed, never performed)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from plugins.calls import (
    CaptureStatus,
    Dial,
    Gather,
    Hangup,
    Pause,
    PaymentCapture,
    Play,
    Record,
    Say,
)
from plugins.ivr.engine import FlowLoader, FlowRunner, FlowState, Outcome, RunEnv, Step, Turn
from plugins.ivr.flowdoc import ParsedFlow
from plugins.ivr.nodes import CallerInput, CallFacts, LookupFailed, LookupRequest, LookupResponse

MAX_TURNS = 200

E164ISH = r"^\+?[0-9]{3,15}$|^anonymous$"


TransferOutcome = Literal["answered", "busy", "no-answer", "failed"]
DIALED: dict[str, str] = {
    "answered": "completed",
    "busy": "busy",
    "no-answer": "no-answer",
    "failed": "failed",
}
"""A script's transfer outcome -> what a provider reports of the dialled leg."""


class ScriptStep(BaseModel):
    """What the caller does the next time the flow listens, or how the next transfer goes:
    exactly one of the fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    digits: str | None = Field(default=None, pattern=r"^[0-9*#]{1,64}$")
    speech: str | None = Field(default=None, min_length=1, max_length=500)
    silence: bool = False
    hangup: bool = False
    transfer: TransferOutcome | None = None
    """The transfer target: ``answered`` (the default when the script says nothing),
    ``busy``, ``no-answer`` or ``failed``."""
    payment: CaptureStatus | None = None
    """How the caller's card payment (a ``pay`` step) ends: ``succeeded`` (the default when
    the script says nothing), ``failed`` or ``cancelled``."""

    @model_validator(mode="after")
    def _one(self) -> ScriptStep:
        chosen = [
            self.digits is not None,
            self.speech is not None,
            self.silence,
            self.hangup,
            self.transfer is not None,
            self.payment is not None,
        ]
        if sum(chosen) != 1:
            raise ValueError(
                "a script step is one of digits, speech, silence, hangup, transfer or payment"
            )
        return self


class LookupAnswer(BaseModel):
    """A canned answer for a lookup node: a status and a JSON body, or a failure."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: int = Field(default=200, ge=100, le=599)
    json_body: Any = Field(default=None, alias="json")
    fail: Literal["timeout", "refused", "error"] | None = None


class Script(BaseModel):
    """A simulated call."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    caller: str = Field(default="+15550100", pattern=E164ISH)
    called: str = Field(default="+15550199", pattern=E164ISH)
    direction: Literal["inbound", "outbound"] = "inbound"
    at: datetime | None = None
    """When the call happens (business hours); default: now. With no time zone: UTC."""
    steps: list[ScriptStep] = Field(default_factory=list, max_length=100)
    variables: dict[str, Any] = Field(default_factory=dict, max_length=100)
    """Variables set before the flow starts (as a campaign would)."""
    lookups: dict[str, Annotated[LookupAnswer, Field()]] = Field(default_factory=dict)
    """Node id -> canned answer for its HTTP lookup."""


class SimulatedStep(BaseModel):
    node: str
    type: str
    event: str
    exit: str | None = None
    depth: int = 0
    detail: dict[str, Any] = Field(default_factory=dict)


class SimulatedEffect(BaseModel):
    """An effect a node declared, which a real call would perform."""

    node: str
    node_type: str
    depth: int = 0
    kind: str
    detail: dict[str, Any] = Field(default_factory=dict)


class Simulation(BaseModel):
    path: list[str]
    """``node:exit`` for each step (``node:ended`` last when the flow ended there)."""
    steps: list[SimulatedStep]
    prompts: list[str]
    """What the caller heard, in order (``[audio <url>]`` for a recording)."""
    instructions: list[dict[str, Any]]
    variables: dict[str, Any]
    outcome: Outcome
    used_steps: int
    """Script steps the flow used (fewer than given: the flow ended first)."""
    effects: list[SimulatedEffect] = Field(default_factory=list)
    """What a real call would have done on the platform, in order; none was performed."""


def spoken(instruction: Any) -> list[str]:
    if isinstance(instruction, Say):
        return [instruction.text]
    if isinstance(instruction, Play):
        return [f"[audio {instruction.url}]"]
    if isinstance(instruction, Gather):
        return [text for part in instruction.prompt for text in spoken(part)]
    if isinstance(instruction, Dial):
        return [f"[transfer to {instruction.number}]"]
    if isinstance(instruction, Record):
        return ["[beep, recording]"]
    if isinstance(instruction, Hangup):
        return ["[hangup]"]
    if isinstance(instruction, Pause):
        return []
    return [f"[{getattr(instruction, 'kind', 'step')}]"]


def canned(
    script: Script, live: Callable[[str, LookupRequest], Awaitable[LookupResponse]] | None
) -> Callable[[str, LookupRequest], Awaitable[LookupResponse]]:
    async def lookup(node_id: str, request: LookupRequest) -> LookupResponse:
        answer = script.lookups.get(node_id)
        if answer is None:
            if live is None:
                raise LookupFailed("no canned answer for this lookup in the script")
            return await live(node_id, request)
        if answer.fail is not None:
            raise LookupFailed(f"simulated {answer.fail}")
        return LookupResponse(status_code=answer.status, json=answer.json_body)

    return lookup


async def simulate(
    flow: ParsedFlow,
    loader: FlowLoader,
    script: Script,
    *,
    live_lookup: Callable[[str, LookupRequest], Awaitable[LookupResponse]] | None = None,
    max_steps: int = 100,
    max_depth: int = 5,
) -> Simulation:
    at = script.at or datetime.now(UTC)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    env = RunEnv(
        call=CallFacts(caller=script.caller, called=script.called, direction=script.direction),
        clock=lambda: at,
        lookup=canned(script, live_lookup),
        simulated=True,
        max_steps=max_steps,
        max_depth=max_depth,
    )
    runner = FlowRunner(loader, env)
    turn = await runner.start(flow, script.variables)
    steps, instructions = list(turn.steps), list(turn.instructions)
    state: FlowState = turn.state
    used = 0
    for _ in range(MAX_TURNS):
        if state.outcome is not None or state.waiting is None:
            break
        got = CallerInput()
        waiting = state.waiting
        upcoming = script.steps[used] if used < len(script.steps) else None
        if waiting.step == "gather":
            if upcoming is None or upcoming.transfer is not None:
                reason = (
                    "the script ended while the flow listened"
                    if upcoming is None
                    else f"script step {used + 1} is a transfer outcome, but the flow listens"
                )
                state.outcome = Outcome(
                    kind="incomplete", node=waiting.node, detail={"reason": reason}
                )
                break
            used += 1
            if upcoming.hangup:
                state.outcome = Outcome(kind="caller-hangup", node=waiting.node)
                break
            got = CallerInput(digits=upcoming.digits, speech=upcoming.speech)
        elif waiting.step == "dial":
            outcome: str = "answered"
            if upcoming is not None and upcoming.transfer is not None:
                outcome, used = upcoming.transfer, used + 1
            got = CallerInput(dialed=DIALED[outcome])
        elif waiting.step == "pay":
            paid: CaptureStatus = "succeeded"
            if upcoming is not None and upcoming.payment is not None:
                paid, used = upcoming.payment, used + 1
            got = CallerInput(payment=PaymentCapture(status=paid, result=f"simulated-{paid}"))
        # What follows a wait other than a gather (a voicemail's goodbye) was heard already:
        # it came with the wait, as on a provider that goes on by itself.
        replayed = bool(waiting.then)
        next_turn: Turn | None = await runner.resume(state, got)
        if next_turn is None:
            break
        steps += next_turn.steps
        if not replayed:
            instructions += next_turn.instructions
        state = next_turn.state
    return _result(steps, instructions, state, used)


def _result(steps: list[Step], instructions: list[Any], state: FlowState, used: int) -> Simulation:
    outcome = state.outcome or Outcome(kind="incomplete", detail={"reason": "too many turns"})
    path = list(state.path)
    return Simulation(
        path=path,
        steps=[
            SimulatedStep(
                node=step.node,
                type=step.node_type,
                event=step.event,
                exit=step.exit,
                depth=step.depth,
                detail=step.detail,
            )
            for step in steps
        ],
        prompts=[text for instruction in instructions for text in spoken(instruction)],
        instructions=[instruction.model_dump(mode="json") for instruction in instructions],
        variables=state.variables,
        outcome=outcome,
        used_steps=used,
        effects=[
            SimulatedEffect.model_validate(declared.summary())
            for step in steps
            for declared in step.effects
        ],
    )
