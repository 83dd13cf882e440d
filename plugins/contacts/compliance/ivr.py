"""The IVR node type ``contacts.opt_out``: the caller says "stop" (or presses the opt-out key
the flow offers) and is not called again.

On a real call the node's effect lists the caller's number on the do-not-call list (source
``ivr``) and appends a revocation to the consent ledger about that number (purpose ``all``
or the configured one, every channel), once per call however often the flow passes the
node. The simulator lists the effect and writes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field
from sqlalchemy import select

from plugins.contacts.compliance import consent, dnc
from plugins.contacts.compliance.settings import ALL, PURPOSE_NAME, read_settings
from plugins.contacts.models import ConsentRecord
from plugins.contacts.phones import InvalidNumber, normalize
from plugins.ivr import (
    Effect,
    EffectScope,
    ExitSpec,
    Go,
    NodeConfig,
    NodeContext,
    NodeResult,
    NodeType,
    Template,
)

NODE_TYPE = "contacts.opt_out"
EXITS = ExitSpec(required=frozenset({"done"}), optional=frozenset({"failed"}))
DNC_REASON = "Asked not to be called, on a call (IVR)."


class OptOutConfig(NodeConfig):
    type: Literal["contacts.opt_out"] = "contacts.opt_out"
    purpose: str = Field(
        default=ALL,
        pattern=PURPOSE_NAME,
        description="`all` (never call me) or one of the organization's purposes.",
    )
    say: Template | None = Field(
        default=None, max_length=500, description="Confirmation to say to the caller."
    )
    add_to_dnc: bool = Field(
        default=True, description="Also list the caller's number on the do-not-call list."
    )


@dataclass(frozen=True, slots=True)
class RecordOptOut(Effect):
    kind = "contacts.opt_out"

    number: str
    purpose: str
    add_to_dnc: bool

    def describe(self) -> Mapping[str, Any]:
        return {"purpose": self.purpose, "add_to_dnc": self.add_to_dnc}

    async def perform(self, scope: EffectScope) -> Mapping[str, Any] | None:
        session = scope.session
        country, settings = await read_settings(session)
        try:
            e164 = normalize(self.number, default_country=country).e164
        except InvalidNumber:
            raise ValueError("the caller's number is not a valid phone number") from None
        call = f"call {scope.call_id}"
        done = await session.scalar(
            select(ConsentRecord.id).where(
                ConsentRecord.number == e164,
                ConsentRecord.source == consent.ConsentSource.IVR.value,
                ConsentRecord.evidence.endswith(call, autoescape=True),
            )
        )
        if done is not None:  # this call opted out already
            return {"consent_record_id": str(done), "already_recorded": True}
        result: dict[str, Any] = {}
        if self.add_to_dnc:
            added = await dnc.add_entry(
                scope.platform,
                session,
                kind=dnc.DncKind.NUMBER,
                value=e164,
                reason=DNC_REASON,
                source=dnc.DncSource.IVR,
                added_by=f"ivr:{scope.flow_id}",
            )
            result["dnc_entry_id"] = str(added.entry.id)
        line = await consent.record(
            scope.platform,
            session,
            settings,
            contact_id=None,
            number=e164,
            purpose=self.purpose,
            channel=ALL,
            action=consent.Action.REVOKED,
            source=consent.ConsentSource.IVR,
            evidence=f"IVR flow {scope.flow_id} v{scope.flow_version} node {scope.node}, {call}",
            recorded_by=f"ivr:{scope.flow_id}",
        )
        result["consent_record_id"] = str(line.id)
        return result


_DIGIT = re.compile(r"\d")


class OptOutNode(NodeType):
    name = NODE_TYPE
    config = OptOutConfig
    description = (
        "Record that the caller does not want to be called again: their number joins the "
        "do-not-call list and the consent ledger gets a revocation. Exits `done`, or `failed` "
        "when the call has no caller number."
    )

    def exits(self, config: Any) -> ExitSpec:
        return EXITS

    async def enter(self, ctx: NodeContext, config: OptOutConfig) -> NodeResult:
        caller = ctx.call.caller or ""
        if not _DIGIT.search(caller):
            exit_name = "failed" if "failed" in config.exits else "done"
            return Go(exit_name, detail={"recorded": False, "reason": "no caller number"})
        ctx.act(RecordOptOut(number=caller, purpose=config.purpose, add_to_dnc=config.add_to_dnc))
        prompts = [ctx.say(config.say)] if config.say else []
        return Go("done", prompts=prompts, detail={"recorded": True, "purpose": config.purpose})
