"""Nodes that listen to the caller: gather (digits and/or speech, branches) and menu (a
prompt built from options). Both ask again on silence or a wrong answer, ``retries`` times,
then leave through ``no_input`` or ``no_match``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from plugins.calls import Capability, Gather
from plugins.ivr.nodes import (
    EXIT_NAME,
    CallerInput,
    ExitSpec,
    Go,
    NodeConfig,
    NodeContext,
    NodeResult,
    NodeType,
    Template,
    Wait,
)
from plugins.ivr.patterns import PatternError, compile_pattern, fullmatch

InputMode = Literal["dtmf", "speech", "dtmf speech"]
VARIABLE = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"
DEFAULT_NO_INPUT = "Sorry, I did not get that."
DEFAULT_NO_MATCH = "Sorry, that is not one of the choices."


class Branch(BaseModel):
    """One answer a gather recognizes; its ``name`` is the exit taken."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=EXIT_NAME)
    digits: str | None = Field(default=None, pattern=r"^[0-9*#]{1,64}$")
    """Exactly these keys."""
    regex: str | None = Field(default=None, min_length=1, max_length=200)
    """A regular expression the whole input (digits, else speech) must match."""
    keywords: list[str] = Field(default_factory=list, max_length=20)
    """Speech containing one of these words or phrases (case does not matter)."""

    @field_validator("regex")
    @classmethod
    def _compiles(cls, regex: str | None) -> str | None:
        if regex is not None:
            try:
                compile_pattern(regex)
            except PatternError as exc:
                raise ValueError(f"not a regular expression RE2 accepts: {exc}") from None
        return regex

    @model_validator(mode="after")
    def _something(self) -> Branch:
        if self.digits is None and self.regex is None and not self.keywords:
            raise ValueError("a branch matches digits, a regex or keywords")
        return self

    def matches(self, got: CallerInput) -> bool:
        if self.digits is not None and got.digits == self.digits:
            return True
        value = got.digits or got.speech or ""
        if self.regex is not None and value and fullmatch(self.regex, value.strip()):
            return True
        spoken = _words(got.speech)
        return any(
            _words(keyword) and _contains(spoken, _words(keyword)) for keyword in self.keywords
        )


def _words(text: str | None) -> list[str]:
    return re.findall(r"[\w']+", (text or "").lower())


def _contains(words: list[str], phrase: list[str]) -> bool:
    size = len(phrase)
    return any(words[i : i + size] == phrase for i in range(len(words) - size + 1))


class _Listening(NodeConfig):
    """What gather and menu share."""

    audio_url: str | None = Field(default=None, max_length=2048, pattern=r"^https?://")
    """A recorded prompt, played instead of the text."""
    input: InputMode = "dtmf"
    timeout_seconds: int = Field(default=5, ge=1, le=60)
    hints: list[str] = Field(default_factory=list, max_length=50)
    retries: int = Field(default=2, ge=0, le=5)
    """How many times to ask again after silence or a wrong answer."""
    no_input_prompt: Template | None = Field(default=DEFAULT_NO_INPUT, max_length=1000)
    no_match_prompt: Template | None = Field(default=DEFAULT_NO_MATCH, max_length=1000)
    save_as: str | None = Field(default=None, pattern=VARIABLE)
    """Keep the answer (digits or speech) in this variable."""
    sensitive: bool = False
    """The answer (a PIN, an account number) stays out of the timeline and events."""


class GatherConfig(_Listening):
    type: Literal["gather"] = "gather"
    prompt: Template | None = Field(default=None, max_length=4000)
    num_digits: int | None = Field(default=None, ge=1, le=64)
    finish_on_key: str = Field(default="#", pattern=r"^[0-9*#]?$")
    branches: list[Branch] = Field(default_factory=list, max_length=50)
    """Tried in order; none: any answer leaves through ``next``."""

    @model_validator(mode="after")
    def _unique(self) -> GatherConfig:
        names = [branch.name for branch in self.branches]
        if len(names) != len(set(names)):
            raise ValueError("branch names must be unique")
        if {"no_input", "no_match", "next"} & set(names):
            raise ValueError("no_input, no_match and next are not branch names")
        return self


class MenuOption(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=r"^[0-9*#]$")
    label: str = Field(min_length=1, max_length=200)
    """What the option is, as spoken: "For {label}, press {key}."."""
    keywords: list[str] = Field(default_factory=list, max_length=20)
    """What a caller may say instead (speech menus); default: the label."""


class MenuConfig(_Listening):
    type: Literal["menu"] = "menu"
    greeting: Template | None = Field(default=None, max_length=2000)
    """Said before the options."""
    options: list[MenuOption] = Field(min_length=1, max_length=12)

    @model_validator(mode="after")
    def _keys(self) -> MenuConfig:
        keys = [option.key for option in self.options]
        if len(keys) != len(set(keys)):
            raise ValueError("option keys must be unique")
        return self


@dataclass(frozen=True)
class _Asking:
    """A gather or a menu, reduced to what listening needs."""

    config: _Listening
    prompt: str | None
    num_digits: int | None
    finish_on_key: str
    branches: Sequence[Branch]


def _step(ctx: NodeContext, asking: _Asking, before: str | None) -> Wait:
    config = asking.config
    prompt: list[Any] = ctx.prompt(asking.prompt, config.audio_url)
    if before:
        prompt.insert(0, ctx.say(before))
    gather = Gather(
        prompt=prompt,
        num_digits=asking.num_digits,
        finish_on_key=asking.finish_on_key,
        timeout_seconds=config.timeout_seconds,
        dtmf="dtmf" in config.input,
        speech="speech" in config.input,
        language=ctx.language,
        hints=list(config.hints),
    )
    return Wait(gather, detail={"attempt": ctx.attempt + 1})


def _answer(ctx: NodeContext, asking: _Asking, got: CallerInput) -> NodeResult:
    config = asking.config
    if got.empty:
        if ctx.attempt < config.retries:
            return _step(ctx, asking, config.no_input_prompt)
        return Go("no_input", detail={"attempts": ctx.attempt + 1})
    value = got.digits if got.digits else (got.speech or "").strip()
    shown = {} if config.sensitive else {"value": value}
    kind = "digits" if got.digits else "speech"
    if not asking.branches:
        _keep(ctx, config, value)
        return Go("next", detail={"input": kind, **shown})
    for branch in asking.branches:
        if branch.matches(got):
            _keep(ctx, config, value)
            return Go(branch.name, detail={"input": kind, **shown})
    if ctx.attempt < config.retries:
        return _step(ctx, asking, config.no_match_prompt)
    return Go("no_match", detail={"input": kind, "attempts": ctx.attempt + 1, **shown})


def _keep(ctx: NodeContext, config: _Listening, value: str) -> None:
    if config.save_as:
        ctx.variables[config.save_as] = value


def _capabilities(config: _Listening) -> frozenset[Capability]:
    return frozenset({Capability.SPEECH_RECOGNITION}) if "speech" in config.input else frozenset()


class GatherNode(NodeType):
    name = "gather"
    config = GatherConfig
    description = (
        "Ask and listen for digits and/or speech; branch by exact digits, a regular "
        "expression or keywords; ask again on silence or no match."
    )
    waits = True

    def exits(self, config: GatherConfig) -> ExitSpec:
        if not config.branches:
            return ExitSpec(required=frozenset({"next", "no_input"}))
        names = {branch.name for branch in config.branches}
        return ExitSpec(required=frozenset({*names, "no_input", "no_match"}))

    def capabilities(self, config: GatherConfig) -> frozenset[Capability]:
        return _capabilities(config)

    def check(self, config: GatherConfig) -> list[tuple[str, str]]:
        if config.prompt is None and config.audio_url is None:
            return [("prompt", "a gather needs a prompt or an audio_url")]
        return []

    def _asking(self, config: GatherConfig) -> _Asking:
        return _Asking(
            config, config.prompt, config.num_digits, config.finish_on_key, config.branches
        )

    async def enter(self, ctx: NodeContext, config: GatherConfig) -> NodeResult:
        return _step(ctx, self._asking(config), None)

    async def resume(self, ctx: NodeContext, config: GatherConfig, got: CallerInput) -> NodeResult:
        return _answer(ctx, self._asking(config), got)


class MenuNode(NodeType):
    name = "menu"
    config = MenuConfig
    description = (
        'A menu: "For sales, press 1. For support, press 2." built from its options; each '
        "option's key is an exit."
    )
    waits = True

    def exits(self, config: MenuConfig) -> ExitSpec:
        keys = {option.key for option in config.options}
        return ExitSpec(required=frozenset({*keys, "no_input", "no_match"}))

    def capabilities(self, config: MenuConfig) -> frozenset[Capability]:
        return _capabilities(config)

    def _asking(self, config: MenuConfig) -> _Asking:
        speech = "speech" in config.input
        parts = [config.greeting] if config.greeting else []
        for option in config.options:
            said = (option.keywords or [option.label])[0]
            tail = f" or say {said}" if speech else ""
            parts.append(f"For {option.label}, press {option.key}{tail}.")
        branches = [
            Branch(name=option.key, digits=option.key, keywords=option.keywords or [option.label])
            if speech
            else Branch(name=option.key, digits=option.key)
            for option in config.options
        ]
        return _Asking(config, " ".join(parts), 1, "", branches)

    async def enter(self, ctx: NodeContext, config: MenuConfig) -> NodeResult:
        return _step(ctx, self._asking(config), None)

    async def resume(self, ctx: NodeContext, config: MenuConfig, got: CallerInput) -> NodeResult:
        return _answer(ctx, self._asking(config), got)


INPUT_TYPES = (GatherNode(), MenuNode())
