"""Every decryption is recorded; plugins reach only the secrets they may; key providers plug in."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider

from kernel import (
    KeyProvider,
    PluginConflictError,
    Principal,
    SecretAccessError,
    SecretSpec,
    WrappedKey,
)
from kernel._platform import build_platform
from kernel._vault.keys import LocalKeyProvider, new_master_key

from .conftest import SECRETS


async def test_each_decryption_is_logged_with_who_why_and_trace(
    kraliki_client, kraliki_platform, make_org
):
    org = await make_org("alpha")
    await kraliki_client.put(f"{SECRETS}/acme.api_key", headers=org.admin, json={"value": "sk_1"})
    vault = kraliki_platform.vault
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("place call") as span:
        trace_id = format(span.get_span_context().trace_id, "032x")
        await vault.reveal(
            "acme.api_key", plugin="acme", purpose="place call", job="dialer", tenant_id=org.id
        )
    agent = Principal(subject="u1", kind="user", tenant_id=org.id)
    await vault.reveal(
        "acme.api_key", plugin="acme", purpose="sync", principal=agent, tenant_id=org.id
    )
    assert (
        await vault.reveal("acme.account_id", plugin="acme", purpose="x", tenant_id=org.id) is None
    )

    log = await kraliki_client.get("/api/v1/vault/audit", headers=org.admin)
    assert log.status_code == 200
    events = log.json()["items"]
    assert [(e["purpose"], e["job"], e["actor_kind"], e["actor_id"]) for e in events] == [
        ("sync", None, "user", "u1"),
        ("place call", "dialer", None, None),
    ]
    assert events[1]["trace_id"] == trace_id
    assert {e["plugin"] for e in events} == {"acme"}
    assert {e["outcome"] for e in events} == {"success"}
    filtered = await kraliki_client.get(
        "/api/v1/vault/audit", headers=org.admin, params={"secret": "acme.account_id"}
    )
    assert filtered.json()["items"] == []
    other = await make_org("beta")
    assert (await kraliki_client.get("/api/v1/vault/audit", headers=other.admin)).json()[
        "items"
    ] == []
    metric = kraliki_platform.metrics.registry.get_sample_value(
        "kraliki_vault_decryptions_total", {"secret": "acme.api_key"}
    )
    assert metric == 2


async def test_plugins_read_only_their_own_or_their_requirements_secrets(
    kraliki_database, make_plugin
):
    acme_specs = [SecretSpec("acme.api_key", "key")]
    plugins = [
        make_plugin("acme", vault_secrets=lambda: acme_specs),
        make_plugin("addon", requires=["acme"]),
        make_plugin("stranger"),
    ]
    platform = build_platform(kraliki_database.settings(), plugins)
    vault = platform.vault
    assert vault.check_access("acme", "acme.api_key").owner == "acme"
    assert vault.check_access("addon", "acme.api_key").owner == "acme"
    with pytest.raises(SecretAccessError, match="does not require"):
        vault.check_access("stranger", "acme.api_key")
    await platform.database.dispose()


def test_secret_names_must_carry_the_plugin_name(kraliki_database, make_plugin):
    with pytest.raises(Exception, match="must start with the plugin's name"):
        build_platform(
            kraliki_database.settings(),
            [make_plugin("acme", vault_secrets=lambda: [SecretSpec("other.key", "x")])],
        )
    with pytest.raises(ValueError, match="must look like"):
        SecretSpec("NoDot", "x")


class TransitProvider:
    """Stands in for a KMS: the vault only asks it to wrap and unwrap data keys."""

    name = "transit"

    def __init__(self) -> None:
        self.inner = LocalKeyProvider.from_text(new_master_key())
        self.calls: list[str] = []

    async def current_kek_id(self) -> str:
        return "transit:kraliki/1"

    async def wrap(self, data_key: bytes, context: bytes) -> WrappedKey:
        self.calls.append("wrap")
        wrapped = await self.inner.wrap(data_key, context)
        return WrappedKey("transit:kraliki/1", wrapped.blob)

    async def unwrap(self, wrapped: WrappedKey, context: bytes) -> bytes:
        self.calls.append("unwrap")
        inner_id = self.inner.kek_ids[0]
        return await self.inner.unwrap(WrappedKey(inner_id, wrapped.blob), context)


async def test_a_plugin_supplies_the_key_provider(
    kraliki_make_app, kraliki_register_plugin, make_plugin, kraliki_make_tenant, kraliki_make_user
):
    transit = TransitProvider()
    kraliki_register_plugin(
        make_plugin(
            "kms",
            vault_key_provider=lambda settings: transit,
            vault_secrets=lambda: [SecretSpec("kms.probe", "x")],
        )
    )
    app = await kraliki_make_app()
    platform = app.state.platform
    assert isinstance(await platform.vault.provider(), KeyProvider)
    assert (await platform.vault.provider()) is transit
    from kernel.testing import app_client, login

    tenant = await kraliki_make_tenant("alpha")
    await kraliki_make_user(tenant, "admin@alpha.example.com", roles=["admin"])
    async with app_client(app) as client:
        headers = await login(client, "admin@alpha.example.com", tenant="alpha")
        stored = await client.put(f"{SECRETS}/kms.probe", headers=headers, json={"value": "v1"})
        assert stored.status_code == 201
        keys = (await client.get("/api/v1/vault/keys", headers=headers)).json()
    assert keys[0]["kek_id"] == "transit:kraliki/1"
    platform.vault.data_keys.clear()
    value = await platform.vault.reveal("kms.probe", plugin="kms", purpose="t", tenant_id=tenant)
    assert value.reveal() == "v1"
    # The token signing key sealed and read back (first login), the data key wrapped; then
    # one unwrap after the cache was cleared (the data key was cached in between).
    assert transit.calls == ["wrap", "unwrap", "wrap", "unwrap"]


async def test_two_key_providers_conflict(kraliki_database, make_plugin):
    plugins = [
        make_plugin(name, vault_key_provider=lambda settings: TransitProvider())
        for name in ("kms_a", "kms_b")
    ]
    platform = build_platform(kraliki_database.settings(), plugins)
    with pytest.raises(PluginConflictError):
        await platform.vault.provider()
    await platform.database.dispose()
