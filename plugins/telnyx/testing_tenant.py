"""An organization set up to call through Telnyx's double, as its administrator would set it
up with Telnyx: the account's key, public key and connection in the tenant's vault, Telnyx the
primary provider. Public through :mod:`plugins.telnyx.testing`."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from kernel import Platform

if TYPE_CHECKING:
    from plugins.telnyx.testing import TelnyxDouble


async def store_secrets(
    platform: Platform, tenant_id: uuid.UUID, double: TelnyxDouble, **overrides: str
) -> None:
    """Store ``double``'s account in the tenant's vault; ``overrides`` replace some of its
    secrets by name (``**{"telnyx.api_key": "KEY_wrong"}``)."""
    from plugins.calls.testing import store_secrets as store

    await store(platform, tenant_id, secrets_of(double) | overrides)


def secrets_of(double: TelnyxDouble) -> dict[str, str]:
    """The vault secrets of ``double``'s account, by name."""
    return {
        "telnyx.api_key": double.api_key,
        "telnyx.public_key": double.public_key,
        "telnyx.connection_id": double.connection_id,
    }


async def use_telnyx(
    platform: Platform, tenant_id: uuid.UUID, double: TelnyxDouble, **call_settings: Any
) -> None:
    """Have the organization call through ``double``, Telnyx its primary provider
    (:func:`plugins.calls.testing.use_provider` says the rest)."""
    from plugins.calls.testing import use_provider

    await use_provider(platform, tenant_id, "telnyx", secrets_of(double), **call_settings)
