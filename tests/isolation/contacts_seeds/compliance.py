"""Seeds the contacts plugin's compliance tables for the cross-tenant route walk."""

from __future__ import annotations

from typing import Any


async def seed(client: Any, tenant: Any) -> None:
    """Rows of every compliance table for ``tenant`` (``.headers``, ``.slug``, ``.secrets``):
    do-not-call entries (a number, a prefix, an imported file) and a consent line."""
    h, slug = tenant.headers, tenant.slug
    digits = {"alpha": "21", "beta": "32"}.get(slug, "43")
    number = f"+141555502{digits}"
    reason = f"dnc reason of {slug}"
    evidence = f"consent evidence of {slug}"
    tenant.secrets.update({number, reason, evidence})
    rules = {
        "purposes": [
            {"name": "marketing", "requires_consent": True, "channels": ["voice_call", "text"]},
            {"name": f"purpose_{slug}"},
        ]
    }
    calls = [
        ("PUT", "/api/v1/contacts/compliance-settings", rules),
        ("POST", "/api/v1/contacts/dnc", {"value": number, "reason": reason}),
        ("POST", "/api/v1/contacts/dnc", {"kind": "prefix", "value": f"+1900{digits}"}),
        (
            "POST",
            "/api/v1/contacts/consents",
            {
                "number": number,
                "purpose": "marketing",
                "channel": "text",
                "action": "revoked",
                "source": "web_form",
                "evidence": evidence,
            },
        ),
    ]
    for method, path, body in calls:
        response = await client.request(method, path, headers=h, json=body)
        assert response.status_code in (200, 201), (path, response.text)
    imported = await client.post(
        "/api/v1/contacts/dnc/import",
        headers=h,
        files={"file": ("dnc.csv", f"number\n+141555503{digits}\n".encode(), "text/csv")},
    )
    assert imported.status_code == 200, imported.text
    assert imported.json()["added"] == 1, imported.text
    # Dispatch what the seeding published now, so the walk finds the outbox at rest.
    drained = await client.post("/api/v1/walkvault/events", headers=h)
    assert drained.status_code == 200, drained.text
