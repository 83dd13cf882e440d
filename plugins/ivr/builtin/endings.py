"""Nodes that end the flow or hand it on: transfer, voicemail, hangup, sub-flow, return."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from plugins.calls import Capability, Dial, Hangup, Record
from plugins.ivr.nodes import (
    NONE,
    CallerInput,
    End,
    EnterFlow,
    ExitSpec,
    Go,
    NodeConfig,
    NodeContext,
    NodeResult,
    NodeType,
    Template,
    Wait,
)

E164 = r"^\+[1-9][0-9]{6,14}$"


class TransferConfig(NodeConfig):
    type: Literal["transfer"] = "transfer"
    number: str = Field(pattern=E164)
    """Where the call goes (E.164)."""
    message: Template | None = Field(default=None, max_length=1000)
    """Said before connecting ("Connecting you to an agent")."""
    caller_id: Literal["caller", "called"] = "caller"
    """The number the transfer target sees: the caller's, or the number they called."""
    timeout_seconds: int = Field(default=30, ge=5, le=600)
    unreached_message: Template = Field(
        default="Sorry, we could not connect your call. Please try again later. Goodbye.",
        min_length=1,
        max_length=1000,
    )
    """Said before hanging up when the target does not take the call and no exit says
    where to go instead."""


class VoicemailConfig(NodeConfig):
    type: Literal["voicemail"] = "voicemail"
    prompt: Template = Field(
        default="Please leave a message after the tone.", min_length=1, max_length=1000
    )
    max_seconds: int = Field(default=120, ge=5, le=3600)
    transcribe: bool = False
    goodbye: Template | None = Field(default="Thank you. Goodbye.", max_length=1000)


class HangupConfig(NodeConfig):
    type: Literal["hangup"] = "hangup"
    message: Template | None = Field(default=None, max_length=1000)
    """Said before hanging up."""


class SubflowConfig(NodeConfig):
    type: Literal["subflow"] = "subflow"
    flow_id: uuid.UUID
    """Another flow of the organization; its published version runs, then ``next``."""


class ReturnConfig(NodeConfig):
    type: Literal["return"] = "return"


UNREACHED_EXITS = {"busy": "busy", "no-answer": "no_answer"}
"""A transfer's outcome -> its own exit; ``failed`` takes every outcome without one."""


class TransferNode(NodeType):
    name = "transfer"
    config = TransferConfig
    description = (
        "Connect the caller to a number; the flow ends when they talked (outcome "
        "transferred), or goes on through busy / no_answer / failed when nobody took the call."
    )
    waits = True
    ends = True

    def exits(self, config: TransferConfig) -> ExitSpec:
        return ExitSpec(optional=frozenset({"busy", "no_answer", "failed"}))

    def capabilities(self, config: TransferConfig) -> frozenset[Capability]:
        return frozenset({Capability.TRANSFER})

    async def enter(self, ctx: NodeContext, config: TransferConfig) -> NodeResult:
        said = [ctx.say(config.message)] if config.message else []
        caller_id = ctx.call.caller if config.caller_id == "caller" else ctx.call.called
        dial = Dial(
            number=config.number,
            caller_id=caller_id,
            timeout_seconds=config.timeout_seconds,
            report_outcome=True,
        )
        return Wait(dial, said, detail={"to": config.number}, ends_as="transferred")

    async def resume(
        self, ctx: NodeContext, config: TransferConfig, got: CallerInput
    ) -> NodeResult:
        status = got.dialed
        if status in (None, "completed"):  # they talked (or the provider does not say)
            return End("transferred", [Hangup()], detail={"to": config.number})
        detail = {"to": config.number, "status": status}
        for exit_ in (UNREACHED_EXITS.get(status), "failed"):
            if exit_ is not None and exit_ in config.exits:
                return Go(exit_, detail=detail)
        said = ctx.say(config.unreached_message)
        return End("transfer-failed", [said, Hangup()], detail=detail)


class VoicemailNode(NodeType):
    name = "voicemail"
    config = VoicemailConfig
    description = "Record a message after the tone, say goodbye, hang up (outcome voicemail)."
    waits = True
    ends = True

    def exits(self, config: VoicemailConfig) -> ExitSpec:
        return NONE

    def capabilities(self, config: VoicemailConfig) -> frozenset[Capability]:
        return frozenset({Capability.RECORDING})

    def _goodbye(self, ctx: NodeContext, config: VoicemailConfig) -> list[object]:
        said = [ctx.say(config.goodbye)] if config.goodbye else []
        return [*said, Hangup()]

    async def enter(self, ctx: NodeContext, config: VoicemailConfig) -> NodeResult:
        record = Record(max_seconds=config.max_seconds, transcribe=config.transcribe)
        goodbye = self._goodbye(ctx, config)
        return Wait(record, [ctx.say(config.prompt)], then=goodbye, ends_as="voicemail")

    async def resume(self, ctx: NodeContext, config: VoicemailConfig, got: object) -> NodeResult:
        return End("voicemail", self._goodbye(ctx, config))


class HangupNode(NodeType):
    name = "hangup"
    config = HangupConfig
    description = "Say a last message (optional) and hang up (outcome hangup)."
    ends = True

    def exits(self, config: HangupConfig) -> ExitSpec:
        return NONE

    async def enter(self, ctx: NodeContext, config: HangupConfig) -> NodeResult:
        said = [ctx.say(config.message)] if config.message else []
        return End("hangup", [*said, Hangup()])


class SubflowNode(NodeType):
    name = "subflow"
    config = SubflowConfig
    description = "Run another flow (its published version); its return node comes back here."

    def flows(self, config: SubflowConfig) -> list[uuid.UUID]:
        return [config.flow_id]

    async def enter(self, ctx: NodeContext, config: SubflowConfig) -> NodeResult:
        return EnterFlow(config.flow_id, detail={"flow_id": str(config.flow_id)})


class ReturnNode(NodeType):
    name = "return"
    config = ReturnConfig
    description = "End a sub-flow: back to the flow that ran it (in a main flow: hang up)."
    ends = True

    def exits(self, config: ReturnConfig) -> ExitSpec:
        return NONE

    async def enter(self, ctx: NodeContext, config: ReturnConfig) -> NodeResult:
        return End("return", [Hangup()])


ENDING_TYPES = (TransferNode(), VoicemailNode(), HangupNode(), SubflowNode(), ReturnNode())
