"""What plugins declare about the secrets they use, and how a stored key is checked."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from kernel._vault.values import SecretValue

if TYPE_CHECKING:
    from kernel._platform import Platform

INSTANCE_KEY = re.compile(r"^[a-z0-9_-]{1,40}$")
SECRET_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}\.[a-z][a-z0-9_.-]{0,55}$")
SecretKind = Literal["api_key", "auth_token", "password", "signing_key", "credential"]
ValidationStatus = Literal["valid", "invalid", "unreachable", "error"]


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """A validator's verdict. ``detail`` is shown to the tenant's admins: a short reason in
    words (``"Twilio answered 401"``), never the key or the provider's raw answer."""

    valid: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class SecretCheck:
    """What a validator receives: the value to test and a way to read sibling secrets (an
    auth token is tested together with its account id)."""

    name: str
    value: SecretValue
    tenant_id: uuid.UUID
    platform: Platform
    reveal: Callable[[str], Awaitable[SecretValue | None]] = field(repr=False)


Validator = Callable[[SecretCheck], Awaitable[ValidationResult]]


@dataclass(frozen=True, slots=True)
class SecretSpec:
    """A secret a plugin reads from the vault, returned by ``kraliki_vault_secrets``.

    ``name`` is ``<plugin>.<key>`` (e.g. ``twilio.auth_token``). ``pattern`` (a regular
    expression the whole value must match) catches pasting the wrong thing at once;
    ``validator`` tests the key against the provider on ``POST .../validate``, calling out
    through ``platform.resilience``.
    """

    name: str
    description: str
    kind: SecretKind = "api_key"
    validator: Validator | None = field(default=None, compare=False)
    pattern: str | None = None
    max_length: int = 4096
    managed: bool = False
    """The plugin generates and stores the values itself (``platform.vault.store``), one per
    object it owns, named ``<name>.<object key>`` (a webhook endpoint's signing secret);
    tenants cannot put or delete them through the vault API."""

    def __post_init__(self) -> None:
        if not SECRET_NAME.match(self.name):
            raise ValueError(
                f"secret name {self.name!r} must look like '<plugin>.<key>' (lower case, "
                "digits, '_', '-', '.')"
            )
        if self.pattern is not None:
            re.compile(self.pattern)

    def instance(self, key: str) -> str:
        """The name of one managed value of this spec (``webhooks.signing.<key>``)."""
        if not self.managed:
            raise ValueError(f"{self.name} is not a managed secret")
        if not INSTANCE_KEY.match(key):
            raise ValueError(f"{key!r} is not a managed secret key (a-z, 0-9, '_', '-')")
        return f"{self.name}.{key}"

    @property
    def owner(self) -> str:
        return self.name.split(".", 1)[0]

    def format_problem(self, value: str) -> str | None:
        """Why ``value`` cannot be this secret, in words that never quote it (or None)."""
        if not value:
            return "the value is empty"
        if len(value) > self.max_length:
            return f"the value is longer than {self.max_length} characters"
        if value != value.strip():
            return "the value starts or ends with whitespace (a copy-paste slip?)"
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            return f"the value does not have the format a {self.name} has"
        return None
