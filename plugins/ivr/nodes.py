"""The node type contract: the public API a plugin implements to add a node type to IVR flows
(payments, agents and queues do), contributed through the ``kraliki_ivr_node_types`` hook.

A node type says what its configuration looks like (a pydantic model, which is also its JSON
schema in the flow designer), which exits it has, what it needs from the telephony provider,
and what it does when the flow reaches it (:meth:`NodeType.enter`): go on through an exit
(:class:`Go`), wait for the caller (:class:`Wait`, then :meth:`NodeType.resume` with what they
keyed or said), or end the flow (:class:`End`). Prompts are provider-neutral instructions
(:mod:`plugins.calls.provider`); the call's provider executes them, and the simulator reads
them. A node never talks to the provider and keeps no state of its own: per-call state is in
:class:`NodeContext` (variables, the retry count) and persisted by the runtime. A node acts on
the platform only by declaring effects (``ctx.act``, :mod:`plugins.ivr.effects`), which the
runtime performs.
"""

from __future__ import annotations

import abc
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from plugins.calls import Capability, PaymentCapture, Play, Say
from plugins.ivr.effects import Effect

NODE_ID = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
EXIT_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"


def _valid_template(text: str) -> str:
    from plugins.ivr.templates import check_template

    check_template(text)
    return text


Template = Annotated[str, AfterValidator(_valid_template)]
"""Text with ``{{ variable }}`` placeholders, checked when the flow is saved."""


class NodeConfig(BaseModel):
    """What every node has: its type, its exits (exit name -> node id), designer data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    exits: dict[str, str] = Field(default_factory=dict)
    """Where the flow goes from here, by exit name (``next``, ``no_input``, a branch...)."""
    label: str = Field(default="", max_length=120)
    ui: dict[str, Any] = Field(default_factory=dict)
    """Free-form data for the flow designer (position, colour); never read by the runtime."""


@dataclass(frozen=True, slots=True)
class ExitSpec:
    """A node's exits: those that must lead somewhere, and those that may."""

    required: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()

    @property
    def allowed(self) -> frozenset[str]:
        return self.required | self.optional


NEXT = ExitSpec(required=frozenset({"next"}))
NONE = ExitSpec()


@dataclass(frozen=True, slots=True)
class CallerInput:
    """How a wait ended: digits keyed, words said, or nothing (silence, timeout); for a
    transfer, how the dialled number's leg ended (``dialed``)."""

    digits: str | None = None
    speech: str | None = None
    confidence: float | None = None
    dialed: str | None = None
    """A transfer's outcome: ``completed`` (answered; the conversation is over), ``busy``,
    ``no-answer``, ``failed`` or ``canceled``. None from a provider that does not say."""
    payment: PaymentCapture | None = None
    """A ``Pay`` step's outcome (never card data)."""

    @property
    def empty(self) -> bool:
        return not (self.digits or (self.speech and self.speech.strip()))


@dataclass(frozen=True, slots=True)
class Go:
    """Leave the node through ``exit`` after playing ``prompts``."""

    exit: str
    prompts: Sequence[Any] = ()
    detail: Mapping[str, Any] = field(default_factory=dict)
    """What the step did, for the timeline, events and the simulator (no secrets)."""


@dataclass(frozen=True, slots=True)
class Wait:
    """Play ``prompts``, then run ``step`` (a Gather, Record or Pay) and wait for its result;
    :meth:`NodeType.resume` gets it. ``then``: what a provider that goes on after the step
    by itself (Telnyx, loopback after a Record) runs next, and what the runtime answers with
    when the step's result comes back instead (Twilio)."""

    step: Any
    prompts: Sequence[Any] = ()
    then: Sequence[Any] = ()
    detail: Mapping[str, Any] = field(default_factory=dict)
    ends_as: str | None = None
    """The flow's outcome if the call ends during the wait (a voicemail left and hung up)."""


@dataclass(frozen=True, slots=True)
class End:
    """End the flow with ``outcome`` after running ``instructions`` (say goodbye, hang up,
    transfer). A sub-flow's ``return`` ends only the sub-flow."""

    outcome: str
    instructions: Sequence[Any] = ()
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EnterFlow:
    """Run another flow's published version, then come back through ``exit``."""

    flow_id: uuid.UUID
    exit: str = "next"
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HandOver:
    """End the flow by passing the call to another call handler (the queues' handler, with
    its ``target``); what it answers follows ``prompts``. The flow ends ``handed-over``. A
    handler that hands the call back to the IVR with target ``<flow id>@<node id>`` resumes
    the flow at that node, its variables and path kept."""

    handler: str
    target: str | None = None
    prompts: Sequence[Any] = ()
    detail: Mapping[str, Any] = field(default_factory=dict)


NodeResult = Go | Wait | End | EnterFlow | HandOver


@dataclass(frozen=True, slots=True)
class LookupRequest:
    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    timeout_seconds: float = 3.0
    bearer_secret: str | None = None
    """A vault secret of the tenant sent as ``Authorization: Bearer``; never in the flow."""


@dataclass(frozen=True, slots=True)
class LookupResponse:
    status_code: int
    json: Any = None


class LookupFailed(Exception):
    """The lookup could not be made or answered (refused URL, timeout, open circuit, not
    JSON); the node takes its ``error`` exit."""


@dataclass(frozen=True, slots=True)
class CallFacts:
    """The call a flow runs on (or pretends to, in the simulator)."""

    caller: str
    called: str
    direction: str = "inbound"
    call_id: uuid.UUID | None = None
    provider: str | None = None
    capabilities: frozenset[Capability] = frozenset(Capability)


@dataclass
class NodeContext:
    """What a node sees while it runs. Mutations of ``variables``, ``language`` and
    ``voice`` are kept for the rest of the call."""

    node_id: str
    call: CallFacts
    variables: dict[str, Any]
    language: str
    voice: str | None
    now: datetime
    attempt: int
    """How many times this node has already waited and asked again (0 the first time)."""
    simulated: bool
    lookup: Callable[[str, LookupRequest], Awaitable[LookupResponse]]
    """Perform an HTTP lookup for the node (the simulator may answer from the script)."""
    effects: list[Effect] = field(default_factory=list)
    """What the node declared with :meth:`act`, in order."""

    def act(self, effect: Effect) -> None:
        """Ask the runtime to perform ``effect`` once the node has returned (on a real call:
        in the call's transaction, under a savepoint; in the simulator: listed, not done).
        Effects of a node that raises are dropped."""
        from plugins.ivr.effects import check_effect

        check_effect(effect)
        self.effects.append(effect)

    def scope(self) -> dict[str, Any]:
        """What expressions and templates see: the flow's variables, plus ``call`` (caller,
        called, direction), ``now`` (local fields are the flow's business: ISO string here)
        and ``language``."""
        return {
            **self.variables,
            "call": {
                "caller": self.call.caller,
                "called": self.call.called,
                "direction": self.call.direction,
            },
            "language": self.language,
            "now": self.now.isoformat(),
        }

    def render(self, text: str) -> str:
        from plugins.ivr.templates import render

        return render(text, self.scope())

    def evaluate(self, source: str) -> Any:
        from plugins.ivr.expressions import compile_expression

        return compile_expression(source).evaluate(self.scope())

    def say(self, text: str, *, voice: str | None = None, language: str | None = None) -> Say:
        """``text`` rendered from the variables, spoken in the flow's current language."""
        return Say(
            text=self.render(text) or " ",
            voice=voice or self.voice,
            language=language or self.language,
        )

    def prompt(self, text: str | None, audio_url: str | None) -> list[Any]:
        """A node's prompt: recorded audio when it has some, else its text."""
        if audio_url:
            return [Play(url=self.render(audio_url))]
        return [self.say(text)] if text else []


class NodeType(abc.ABC):
    """One kind of node. One object serves every flow and tenant: keep no state on it."""

    name: ClassVar[str]
    """Lower case with underscores; the ``type`` of the nodes (``say``, ``payments.pay``)."""
    config: ClassVar[type[NodeConfig]]
    description: ClassVar[str] = ""
    waits: ClassVar[bool] = False
    """Whether the node can stop the flow to listen to the caller (a loop through such a
    node is a menu, not an endless loop)."""
    ends: ClassVar[bool] = False
    """Whether the node can end the flow."""

    def exits(self, config: Any) -> ExitSpec:
        """The node's exits for this configuration."""
        return NEXT

    def capabilities(self, config: Any) -> frozenset[Capability]:
        """What the provider must be able to do to run this node."""
        return frozenset()

    def check(self, config: Any) -> list[tuple[str, str]]:
        """Problems the schema cannot see (bad templates, expressions): (field, message)."""
        return []

    def flows(self, config: Any) -> list[uuid.UUID]:
        """Other flows this node runs (sub-flows), for validation."""
        return []

    @abc.abstractmethod
    async def enter(self, ctx: NodeContext, config: Any) -> NodeResult:
        """The flow reached the node."""

    async def resume(self, ctx: NodeContext, config: Any, got: CallerInput) -> NodeResult:
        """The wait the node asked for ended (only for nodes that return :class:`Wait`)."""
        raise NotImplementedError(f"node type {self.name!r} does not wait")
