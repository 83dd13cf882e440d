"""Helpers of the AI gateway tests: an output model the test provider answers, and keys,
settings and generate through the API."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from pydantic import BaseModel

from kernel.testing import TenantOwner
from plugins.ai import ChatRequest


class Verdict(BaseModel):
    label: str
    score: float


async def verdict_offline(request: ChatRequest) -> str:
    return Verdict(label="neutral", score=0.0).model_dump_json()


async def store_key(client: httpx.AsyncClient, who: TenantOwner, provider: str) -> str:
    key = f"sk-{provider}-{uuid.uuid4().hex}"
    response = await client.put(
        f"/api/v1/vault/secrets/{provider}.api_key", headers=who.headers, json={"value": key}
    )
    assert response.status_code in (200, 201), response.text
    return key


async def put_settings(client: httpx.AsyncClient, who: TenantOwner, **values: Any) -> Any:
    response = await client.put("/api/v1/ai/settings", headers=who.headers, json=values)
    assert response.status_code == 200, response.text
    return response.json()


async def generate(client: httpx.AsyncClient, who: TenantOwner, prompt: str, **extra: Any) -> Any:
    response = await client.post(
        "/api/v1/ai/generate", headers=who.headers, json={"prompt": prompt, **extra}
    )
    assert response.status_code == 200, response.text
    return response.json()
