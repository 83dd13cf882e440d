"""The tenant's OpenAI key in the vault (:data:`SECRETS`), and the check that tests a stored
key against OpenAI (listing the models it may use)."""

from __future__ import annotations

from kernel import RejectedError, SecretCheck, SecretSpec, ValidationResult

API_KEY = "openai.api_key"


async def check_key(check: SecretCheck) -> ValidationResult:
    """OpenAI answers 401 to a wrong key and 403 to one without access; the detail names
    the status only, never the key or OpenAI's message (which may quote part of it)."""
    from plugins.openai.provider import OpenAIProvider

    provider = OpenAIProvider(check.platform)
    try:
        count = await provider.count_models(check.value, tenant_id=check.tenant_id)
    except RejectedError as exc:
        return ValidationResult(False, f"OpenAI refused the key (HTTP {exc.status})")
    return ValidationResult(True, f"OpenAI accepted the key; it may use {count} models")


SECRETS = [
    SecretSpec(
        API_KEY,
        "OpenAI API key (sk-...), from platform.openai.com: the organization's own key, "
        "used for every OpenAI request made for it.",
        kind="api_key",
        pattern=r"sk-[A-Za-z0-9_\-]{16,}",
        validator=check_key,
    )
]
