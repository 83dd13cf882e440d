"""Standard Webhooks signatures (https://www.standardwebhooks.com/), with the reference
library: ``v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">`` under the
secret's decoded bytes; during a rotation's grace period, one signature per live secret,
separated by spaces."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from standardwebhooks import Webhook

from kernel import SecretSpec, __version__

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
SECRET_BYTES = 32
USER_AGENT = f"Kraliki-Webhooks/{__version__}"

SIGNING_SECRET = SecretSpec(
    "webhooks.signing",
    "Signing secret of a webhook endpoint (one per endpoint and version; generated).",
    kind="signing_key",
    managed=True,
)


def new_secret() -> str:
    """``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_name(endpoint_hex: str, version: int) -> str:
    """The vault name of one version of an endpoint's secret."""
    return SIGNING_SECRET.instance(f"{endpoint_hex}-v{version}")


def body_of(envelope: dict[str, Any]) -> str:
    """The exact text that is sent and signed."""
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)


def headers(
    *, message_id: str, timestamp: datetime, body: str, secrets: Sequence[str]
) -> dict[str, str]:
    """The request headers of one attempt (a fresh timestamp each time)."""
    signature = " ".join(Webhook(secret).sign(message_id, timestamp, body) for secret in secrets)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }
