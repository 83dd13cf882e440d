"""A plugin that keeps two secrets in the vault, and tenants with an admin, an integrator and
an agent logged in through the API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from kernel import SecretCheck, SecretSpec, ValidationResult
from kernel.testing import login

SECRETS = "/api/v1/vault/secrets"


async def check_prefix(check: SecretCheck) -> ValidationResult:
    """Stands in for a provider round trip: the resilience tests cover the network part."""
    account = await check.reveal("acme.account_id")
    if account is None:
        return ValidationResult(False, "store acme.account_id first")
    ok = check.value.reveal().startswith("sk_")
    return ValidationResult(ok, "accepted" if ok else "the provider refused the key")


ACME_SECRETS = [
    SecretSpec("acme.api_key", "The Acme API key.", validator=check_prefix),
    SecretSpec(
        "acme.account_id", "The Acme account id.", kind="credential", pattern=r"AC[0-9a-f]{8}"
    ),
]


@pytest.fixture
def kraliki_extra_plugins(make_plugin):
    return [make_plugin("acme", vault_secrets=lambda: ACME_SECRETS)]


@dataclass
class Org:
    id: uuid.UUID
    slug: str
    admin: dict[str, str]
    integrator: dict[str, str]
    agent: dict[str, str]


@pytest.fixture
def make_org(kraliki_make_tenant, kraliki_make_user, kraliki_client):
    async def make(slug: str) -> Org:
        tenant_id = await kraliki_make_tenant(slug)
        headers = {}
        for role in ("admin", "integrator", "agent"):
            email = f"{role}@{slug}.example.com"
            await kraliki_make_user(tenant_id, email, roles=[role])
            headers[role] = await login(kraliki_client, email, tenant=slug)
        return Org(tenant_id, slug, headers["admin"], headers["integrator"], headers["agent"])

    return make
