"""The tenant's Twilio credentials in the vault (:data:`SECRETS`), and the credential check
that tests a stored pair against Twilio."""

from __future__ import annotations

from kernel import SecretCheck, SecretSpec, SecretValue, ValidationResult
from plugins.calls import ProviderRefused, build_provider

ACCOUNT_SID = "twilio.account_sid"
AUTH_TOKEN = "twilio.auth_token"  # noqa: S105 (a secret's name, not a secret)


async def check_credentials(check: SecretCheck) -> ValidationResult:
    """Fetch the account with the stored pair: Twilio answers 401 to a wrong one. Either
    secret is tested together with the other, so both must be stored."""
    from plugins.twilio.provider import TwilioProvider

    sid: SecretValue | None
    token: SecretValue | None
    if check.name == ACCOUNT_SID:
        sid, token = check.value, await check.reveal(AUTH_TOKEN)
    else:
        sid, token = await check.reveal(ACCOUNT_SID), check.value
    if sid is None or token is None:
        return ValidationResult(False, f"store both {ACCOUNT_SID} and {AUTH_TOKEN} to test them")
    provider = build_provider(check.platform, check.tenant_id, "twilio")
    assert isinstance(provider, TwilioProvider)
    try:
        status = await provider.check_account(sid.reveal(), token.reveal())
    except ProviderRefused as exc:
        return ValidationResult(False, f"Twilio refused the credentials (error {exc.code})")
    if status != "active":
        return ValidationResult(False, f"the Twilio account is {status}")
    return ValidationResult(True, "Twilio accepted the credentials; the account is active")


SECRETS = [
    SecretSpec(
        ACCOUNT_SID,
        "Twilio Account SID (AC followed by 32 hex digits), from the Twilio Console.",
        kind="credential",
        pattern=r"AC[0-9a-f]{32}",
        validator=check_credentials,
    ),
    SecretSpec(
        AUTH_TOKEN,
        "Twilio Auth Token of that account: authenticates REST requests and signs "
        "Twilio's webhooks.",
        kind="auth_token",
        pattern=r"[0-9a-f]{32}",
        validator=check_credentials,
    ),
]
