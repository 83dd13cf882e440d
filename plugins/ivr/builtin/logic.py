"""Nodes that decide without the caller: business hours, condition, set variables."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from plugins.ivr.expressions import ExpressionError, compile_expression, truthy
from plugins.ivr.hours import BusinessHours, check
from plugins.ivr.nodes import (
    EXIT_NAME,
    ExitSpec,
    Go,
    NodeConfig,
    NodeContext,
    NodeResult,
    NodeType,
)

VARIABLE = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"
RESERVED = frozenset({"call", "language", "now"})
"""Names the flow's scope gives (``NodeContext.scope``); a flow cannot set them."""


def _expression(source: str) -> str:
    try:
        compile_expression(source)
    except ExpressionError as exc:
        raise ValueError(str(exc)) from None
    return source


class BusinessHoursConfig(NodeConfig):
    type: Literal["business_hours"] = "business_hours"
    hours: BusinessHours
    """Weekly windows and holidays in a time zone."""


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=EXIT_NAME)
    when: str = Field(min_length=1, max_length=500)
    """An expression over the variables (``balance > 100 and call.caller.startswith("+44")``)."""

    @field_validator("when")
    @classmethod
    def _valid(cls, source: str) -> str:
        return _expression(source)


class ConditionConfig(NodeConfig):
    type: Literal["condition"] = "condition"
    cases: list[Case] = Field(min_length=1, max_length=20)
    """Tried in order; the first true one is the exit; none: ``else``."""

    @model_validator(mode="after")
    def _unique(self) -> ConditionConfig:
        names = [case.name for case in self.cases]
        if len(names) != len(set(names)) or "else" in names:
            raise ValueError("case names must be unique and not 'else'")
        return self


class SetConfig(NodeConfig):
    type: Literal["set"] = "set"
    values: dict[str, str] = Field(min_length=1, max_length=50)
    """Variable name -> expression, evaluated in order (``attempts + 1``, ``"gold"``)."""

    @field_validator("values")
    @classmethod
    def _values(cls, values: dict[str, str]) -> dict[str, str]:
        for name, source in values.items():
            if not re.match(VARIABLE, name) or name in RESERVED:
                raise ValueError(f"{name!r} cannot be a variable name")
            _expression(source)
        return values


class BusinessHoursNode(NodeType):
    name = "business_hours"
    config = BusinessHoursConfig
    description = (
        "Open or closed now, by a weekly schedule and holidays in a time zone "
        "(exit holiday when set, else closed)."
    )

    def exits(self, config: BusinessHoursConfig) -> ExitSpec:
        return ExitSpec(required=frozenset({"open", "closed"}), optional=frozenset({"holiday"}))

    async def enter(self, ctx: NodeContext, config: BusinessHoursConfig) -> NodeResult:
        verdict = check(config.hours, ctx.now)
        exit_ = verdict.state
        if exit_ == "holiday" and "holiday" not in config.exits:
            exit_ = "closed"
        detail = {"local_time": verdict.local_time.isoformat(), "holiday": verdict.holiday}
        return Go(exit_, detail=detail)


class ConditionNode(NodeType):
    name = "condition"
    config = ConditionConfig
    description = "Branch on expressions over the call and flow variables (never eval)."

    def exits(self, config: ConditionConfig) -> ExitSpec:
        return ExitSpec(required=frozenset({*(case.name for case in config.cases), "else"}))

    async def enter(self, ctx: NodeContext, config: ConditionConfig) -> NodeResult:
        for case in config.cases:
            if truthy(ctx.evaluate(case.when)):
                return Go(case.name)
        return Go("else")


class SetNode(NodeType):
    name = "set"
    config = SetConfig
    description = "Set flow variables from expressions."

    async def enter(self, ctx: NodeContext, config: SetConfig) -> NodeResult:
        for name, source in config.values.items():
            ctx.variables[name] = ctx.evaluate(source)
        return Go("next", detail={"set": sorted(config.values)})


LOGIC_TYPES = (BusinessHoursNode(), ConditionNode(), SetNode())
