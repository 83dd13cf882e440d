"""The tenant's Anthropic key in the vault (:data:`SECRETS`), and the check that tests a
stored key against Anthropic (listing the models it may use)."""

from __future__ import annotations

from kernel import RejectedError, SecretCheck, SecretSpec, ValidationResult

API_KEY = "anthropic.api_key"


async def check_key(check: SecretCheck) -> ValidationResult:
    """Anthropic answers 401 to a wrong key and 403 to one without access; the detail names
    the status only, never the key or Anthropic's message."""
    from plugins.anthropic.provider import AnthropicProvider

    provider = AnthropicProvider(check.platform)
    try:
        count = await provider.count_models(check.value, tenant_id=check.tenant_id)
    except RejectedError as exc:
        return ValidationResult(False, f"Anthropic refused the key (HTTP {exc.status})")
    return ValidationResult(True, f"Anthropic accepted the key; it may use {count} models")


SECRETS = [
    SecretSpec(
        API_KEY,
        "Anthropic API key (sk-ant-...), from console.anthropic.com: the organization's own "
        "key, used for every Anthropic request made for it.",
        kind="api_key",
        pattern=r"sk-ant-[A-Za-z0-9_\-]{16,}",
        validator=check_key,
    )
]
