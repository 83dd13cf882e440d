"""Helpers shared by the telnyx tests: the plugins to load, the tenant's secrets, requests."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import plugins.telnyx.plugin
from kernel import Platform, tenant_scope
from kernel.testing import installed_plugin
from plugins.calls import CallRef, CallStatus, Direction, WebhookRequest, build_provider
from plugins.telnyx.provider import TelnyxProvider
from plugins.telnyx.testing import TelnyxDouble, use_telnyx
from plugins.telnyx.testing import store_secrets as store_secrets

PUBLIC_BASE_URL = "https://voice.example.test"
CALLER = "+14155550100"
CALLEE = "+420601123456"


def as_json(*steps: Any) -> tuple[dict[str, Any], ...]:
    """Instructions as a continuation carries them (JSON, defaults included)."""
    return tuple(step.model_dump(mode="json") for step in steps)


def with_telnyx(installed: Sequence[object]) -> list[object]:
    """The installed plugins plus calls and telnyx where they are not entry points (yet)."""
    loaded = {getattr(source, "obj", source) for source in installed}
    return [
        *installed,
        *(p for p in (installed_plugin("calls"), plugins.telnyx.plugin) if p not in loaded),
    ]


async def calling_tenant(platform: Platform, slug: str, double: TelnyxDouble) -> uuid.UUID:
    """An organization whose calls go out through ``double`` (its account in the vault),
    ten at a time, without the per-second limit getting in the way."""
    from kernel.testing import create_tenant

    tenant_id = await create_tenant(platform, slug)
    await use_telnyx(
        platform, tenant_id, double, max_concurrent_calls=10, calls_per_second={"telnyx": 100.0}
    )
    return tenant_id


def provider_for(platform: Platform, tenant_id: uuid.UUID) -> TelnyxProvider:
    with tenant_scope(tenant_id):
        provider = build_provider(platform, tenant_id, "telnyx")
    assert isinstance(provider, TelnyxProvider)
    return provider


def call_ref(
    provider_call_id: str | None,
    *,
    direction: Direction = Direction.OUTBOUND,
    status: CallStatus = CallStatus.IN_PROGRESS,
    call_id: uuid.UUID | None = None,
) -> CallRef:
    return CallRef(
        id=call_id or uuid.uuid4(),
        provider_call_id=provider_call_id,
        direction=direction,
        status=status,
        from_number=CALLER,
        to_number=CALLEE,
    )


def webhook(
    body: bytes | Mapping[str, Any],
    headers: Mapping[str, str] | None = None,
    *,
    tenant_id: uuid.UUID | None = None,
    kind: str = "events",
) -> WebhookRequest:
    """The request a webhook route hands the provider."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    tenant = tenant_id or uuid.uuid4()
    return WebhookRequest(
        kind=kind,
        method="POST",
        url=f"{PUBLIC_BASE_URL}/webhooks/telnyx/{tenant}/{kind}",
        headers={key.lower(): value for key, value in (headers or {}).items()},
        body=raw,
    )


def signed(double: TelnyxDouble, document: Mapping[str, Any], timestamp: int) -> WebhookRequest:
    body = json.dumps(document).encode()
    stamp = str(timestamp)
    return webhook(
        body,
        {"telnyx-timestamp": stamp, "telnyx-signature-ed25519": double.sign(body, stamp)},
    )
