"""An organization set up to call through Twilio's double, as its administrator would set it
up with Twilio: the account in the tenant's vault, Twilio the primary provider. Public
through :mod:`plugins.twilio.testing`."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from kernel import Platform

if TYPE_CHECKING:
    from plugins.twilio.testing import TwilioDouble


async def store_credentials(
    platform: Platform, tenant_id: uuid.UUID, account_sid: str, auth_token: str
) -> None:
    """Store a Twilio account (``twilio.account_sid``, ``twilio.auth_token``) in the tenant's
    vault: one of the double's (``double.account_sid``, an ``add_account()``) or a wrong one."""
    from plugins.calls.testing import store_secrets

    secrets = {"twilio.account_sid": account_sid, "twilio.auth_token": auth_token}
    await store_secrets(platform, tenant_id, secrets)


async def use_twilio(
    platform: Platform, tenant_id: uuid.UUID, double: TwilioDouble, **call_settings: Any
) -> None:
    """Have the organization call through ``double``'s first account, Twilio its primary
    provider (:func:`plugins.calls.testing.use_provider` says the rest)."""
    from plugins.calls.testing import use_provider

    secrets = {"twilio.account_sid": double.account_sid, "twilio.auth_token": double.auth_token}
    await use_provider(platform, tenant_id, "twilio", secrets, **call_settings)
