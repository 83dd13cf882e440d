"""The tenant secrets the telnyx plugin reads (:data:`SECRETS`), and the credential checks
that test a stored key and Call Control application against Telnyx."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kernel import RejectedError, SecretCheck, SecretSpec, ValidationResult
from plugins.telnyx.client import DEPENDENCY, classify, make_client
from plugins.telnyx.config import settings_of

if TYPE_CHECKING:
    from telnyx import AsyncTelnyx

API_KEY = "telnyx.api_key"
PUBLIC_KEY = "telnyx.public_key"
CONNECTION_ID = "telnyx.connection_id"


def _client(check: SecretCheck, api_key: str) -> AsyncTelnyx:
    settings = settings_of(check.platform)
    return make_client(api_key, base_url=settings.api_base_url, http=check.platform.resilience.http)


async def check_api_key(check: SecretCheck) -> ValidationResult:
    """Lists one Call Control application: proves the key and its right to use Call Control."""
    applications = _client(check, check.value.reveal()).call_control_applications

    async def list_applications() -> Any:
        return await applications.list(page_size=1)

    try:
        await check.platform.resilience.call(
            DEPENDENCY, list_applications, tenant_id=check.tenant_id, classify=classify
        )
    except RejectedError as exc:
        if exc.status == 401:
            return ValidationResult(False, "Telnyx does not know this API key (HTTP 401)")
        if exc.status == 403:
            return ValidationResult(False, "the key may not use Call Control (HTTP 403)")
        raise
    return ValidationResult(True, "Telnyx accepted the key")


async def check_connection_id(check: SecretCheck) -> ValidationResult:
    """Looks the Call Control application up with the tenant's API key."""
    key = await check.reveal(API_KEY)
    if key is None:
        return ValidationResult(False, "store telnyx.api_key first: it is needed to look up")
    applications = _client(check, key.reveal()).call_control_applications
    application_id = check.value.reveal()

    async def retrieve() -> Any:
        return await applications.retrieve(application_id)

    try:
        await check.platform.resilience.call(
            DEPENDENCY, retrieve, tenant_id=check.tenant_id, classify=classify
        )
    except RejectedError as exc:
        if exc.status == 404:
            return ValidationResult(False, "the account has no Call Control application with it")
        raise
    return ValidationResult(True, "the Call Control application exists")


SECRETS = [
    SecretSpec(
        API_KEY,
        "API key (v2) of the tenant's Telnyx account (Mission Control: Account Settings, "
        "Keys & Credentials).",
        kind="api_key",
        pattern=r"KEY[0-9A-Za-z_-]{16,200}",
        validator=check_api_key,
    ),
    SecretSpec(
        PUBLIC_KEY,
        "The account's public key for webhook signatures (Ed25519, base64; Mission Control: "
        "Account Settings, Keys & Credentials, Public Key).",
        kind="signing_key",
        pattern=r"[A-Za-z0-9+/]{43}=",
    ),
    SecretSpec(
        CONNECTION_ID,
        "Id of the Call Control application (Voice API application) that places and "
        "receives the tenant's calls; its webhook URL points at the platform.",
        kind="credential",
        pattern=r"[0-9A-Za-z-]{4,64}",
        validator=check_connection_id,
    ),
]
