"""Nodes that speak to the caller and go on: say, play, language switch."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from plugins.calls import Play
from plugins.ivr.nodes import Go, NodeConfig, NodeContext, NodeResult, NodeType, Template

LANGUAGE = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"


class SayConfig(NodeConfig):
    type: Literal["say"] = "say"
    text: Template = Field(min_length=1, max_length=4000)
    voice: str | None = Field(default=None, max_length=64)
    language: str | None = Field(default=None, pattern=LANGUAGE)
    """Default: the flow's current language."""


class PlayConfig(NodeConfig):
    type: Literal["play"] = "play"
    url: str = Field(min_length=8, max_length=2048, pattern=r"^https?://")
    loop: int = Field(default=1, ge=1, le=10)


class LanguageConfig(NodeConfig):
    type: Literal["language"] = "language"
    language: str = Field(pattern=LANGUAGE)
    """From here on, prompts are spoken and speech is heard in this language (``es-ES``)."""
    voice: str | None = Field(default=None, max_length=64)


class SayNode(NodeType):
    name = "say"
    config = SayConfig
    description = "Speak a text (templated from variables), then go on."

    async def enter(self, ctx: NodeContext, config: SayConfig) -> NodeResult:
        said = ctx.say(config.text, voice=config.voice, language=config.language)
        return Go("next", prompts=[said])


class PlayNode(NodeType):
    name = "play"
    config = PlayConfig
    description = "Play an audio file (a URL the provider can fetch), then go on."

    async def enter(self, ctx: NodeContext, config: PlayConfig) -> NodeResult:
        return Go("next", prompts=[Play(url=config.url, loop=config.loop)])


class LanguageNode(NodeType):
    name = "language"
    config = LanguageConfig
    description = "Switch the language (and voice) of the prompts and speech recognition."

    async def enter(self, ctx: NodeContext, config: LanguageConfig) -> NodeResult:
        ctx.language = config.language
        ctx.voice = config.voice
        return Go("next", detail={"language": config.language})


PROMPT_TYPES = (SayNode(), PlayNode(), LanguageNode())
