"""Seeds the ai plugin's tables for the cross-tenant route walk: the organization's AI
settings (instructions naming a value of the tenant's own, which must never leak) and usage
rows from a generated answer."""

from __future__ import annotations

from typing import Any


async def seed(client: Any, tenant: Any) -> None:
    """Rows of every ai table for ``tenant`` (``.headers``, ``.slug``, ``.secrets``)."""
    h = tenant.headers
    glossary = f"ai-glossary-{tenant.slug}-x7q"
    tenant.secrets.add(glossary)
    settings = await client.put(
        "/api/v1/ai/settings",
        headers=h,
        json={
            "instructions": f"Use the word {glossary}.",
            "redaction_patterns": [{"name": f"ref-{tenant.slug}", "regex": r"REF-\d{4}"}],
            "monthly_budget": "12.50",
        },
    )
    assert settings.status_code == 200, settings.text
    answered = await client.post("/api/v1/ai/generate", headers=h, json={"prompt": "hello"})
    assert answered.status_code == 200, answered.text
    usage = await client.get("/api/v1/ai/usage", headers=h)  # writes the offline usage
    assert usage.status_code == 200, usage.text
    assert usage.json()["totals"]["requests"] >= 1
