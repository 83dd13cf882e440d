"""``POST /api/v1/ai/generate``: a prompt of the user's own, answered by the organization's
model for the ``generate`` task (the original backend's generateResponse), metered."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from kernel import PlatformDep, Principal, require
from plugins.ai.builtin_tasks import GENERATE
from plugins.ai.gateway import Answer, complete
from plugins.ai.permissions import AI_GENERATE

router = APIRouter(tags=["ai"])

Generator = Annotated[Principal, Depends(require(AI_GENERATE.resource, AI_GENERATE.action))]


class AiGenerateIn(BaseModel):
    prompt: str = Field(min_length=1, max_length=20000)
    system: str | None = Field(default=None, max_length=8000)
    max_output_tokens: int = Field(default=1024, ge=1, le=8192)


class AiTokens(BaseModel):
    input_tokens: int
    output_tokens: int


class AiFallbackOut(BaseModel):
    provider: str
    reason: str
    detail: str


class AiGenerateOut(BaseModel):
    text: str
    provider: str
    model: str
    usage: AiTokens
    fallbacks: list[AiFallbackOut]
    """Providers passed over before the one that answered, and why."""


@router.post("/generate", response_model=AiGenerateOut, summary="Ask the organization's model")
async def generate(body: AiGenerateIn, _: Generator, platform: PlatformDep) -> AiGenerateOut:
    """Redacted and with the organization's instructions like every request; the offline
    provider (no provider chosen for `generate`, or every one passed over) says it writes
    no free text."""
    answer: Answer[BaseModel] = await complete(
        platform,
        plugin="ai",
        task=GENERATE,
        prompt=body.prompt,
        system=body.system,
        max_output_tokens=body.max_output_tokens,
    )
    return AiGenerateOut(
        text=answer.text,
        provider=answer.provider,
        model=answer.model,
        usage=AiTokens(
            input_tokens=answer.usage.input_tokens, output_tokens=answer.usage.output_tokens
        ),
        fallbacks=[
            AiFallbackOut(provider=f.provider, reason=f.reason, detail=f.detail)
            for f in answer.fallbacks
        ],
    )
