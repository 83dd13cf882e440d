"""Testing a stored key against its provider, through the owning plugin's validator."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kernel._principal import Principal
from kernel._resilience.errors import CircuitOpenError, RejectedError, TransientError
from kernel._vault.declarations import SecretCheck, SecretSpec, ValidationStatus
from kernel._vault.service import Vault
from kernel._vault.values import SecretValue

if TYPE_CHECKING:
    from kernel._platform import Platform

logger = logging.getLogger("kraliki.vault")


@dataclass(frozen=True, slots=True)
class ValidationOutcome:
    status: ValidationStatus
    detail: str


async def run_validator(
    vault: Vault,
    spec: SecretSpec,
    value: SecretValue,
    *,
    tenant_id: uuid.UUID,
    principal: Principal | None,
    platform: Platform,
) -> ValidationOutcome:
    """Call the plugin's validator; whatever it does, answer with a status, never raise.

    A provider refusing the key (4xx through the resilience helper) means ``invalid``; a
    provider that cannot be reached (timeouts, 5xx, open circuit) means ``unreachable``; a
    validator that crashes means ``error`` (logged with the plugin's name, without the
    exception's text, which might quote the key).
    """
    assert spec.validator is not None

    async def sibling(name: str) -> SecretValue | None:
        return await vault.reveal(
            name,
            plugin=spec.owner,
            purpose=f"validate {spec.name}",
            principal=principal,
            tenant_id=tenant_id,
        )

    check = SecretCheck(spec.name, value, tenant_id, platform, sibling)
    timeout = vault.settings.vault_validation_timeout_seconds
    try:
        async with asyncio.timeout(timeout):
            result = await spec.validator(check)
    except RejectedError as exc:
        return ValidationOutcome("invalid", f"the provider refused the key (HTTP {exc.status})")
    except CircuitOpenError:
        return ValidationOutcome(
            "unreachable", "calls to this provider are paused after repeated failures"
        )
    except (TransientError, TimeoutError):
        return ValidationOutcome("unreachable", "the provider could not be reached; try again")
    except Exception as exc:
        logger.error(
            "plugin %r: validator of %s raised %s",
            spec.owner,
            spec.name,
            type(exc).__name__,
            extra={"plugin": spec.owner, "secret": spec.name},
        )
        return ValidationOutcome("error", "the plugin's validator failed; see the server log")
    status: ValidationStatus = "valid" if result.valid else "invalid"
    return ValidationOutcome(status, result.detail[:300])
