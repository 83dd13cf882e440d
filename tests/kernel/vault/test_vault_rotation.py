"""Data key and KEK rotation: online, resumable, and never leaving a secret unreadable."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from kernel import SecretUnavailableError, tenant_scope
from kernel._cli import build_cli
from kernel._platform import build_platform
from kernel._vault import rotation
from kernel._vault.keys import LocalKeyProvider, new_master_key
from kernel._vault.models import VaultDataKey, VaultSecret

from .conftest import SECRETS

NAMES = ["acme.api_key", "acme.account_id"]
VALUES = {"acme.api_key": "sk_rotating_key", "acme.account_id": "AC00c0ffee"}


async def store(client, org) -> None:
    for name, value in VALUES.items():
        response = await client.put(f"{SECRETS}/{name}", headers=org.admin, json={"value": value})
        assert response.status_code == 201


async def readable(platform, tenant_id: uuid.UUID) -> dict[str, str]:
    values = {}
    for name in NAMES:
        value = await platform.vault.reveal(
            name, plugin="acme", purpose="test", tenant_id=tenant_id
        )
        values[name] = value.reveal()
    return values


async def data_keys(platform, tenant_id: uuid.UUID) -> list[tuple[int, str]]:
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            keys = await session.scalars(select(VaultDataKey).order_by(VaultDataKey.version))
            return [(key.version, key.status) for key in keys]


async def secret_keys(platform, tenant_id: uuid.UUID) -> set[uuid.UUID]:
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            return set(await session.scalars(select(VaultSecret.data_key_id)))


async def test_rotating_the_data_key_through_the_api(kraliki_client, kraliki_platform, make_org):
    org = await make_org("alpha")
    await store(kraliki_client, org)
    rotated = await kraliki_client.post("/api/v1/vault/keys/rotate", headers=org.admin)
    assert rotated.status_code == 200, rotated.text
    assert rotated.json() == {
        "primary_version": 2,
        "resumed": False,
        "re_encrypted": 2,
        "retired": 1,
    }
    keys = (await kraliki_client.get("/api/v1/vault/keys", headers=org.admin)).json()
    assert [(k["version"], k["status"]) for k in keys] == [(1, "retired"), (2, "primary")]
    assert keys[1]["kek_id"].startswith("local:")
    assert await readable(kraliki_platform, org.id) == VALUES
    # The secrets' versions (what a replace bumps) are untouched by a rotation.
    listed = (await kraliki_client.get(SECRETS, headers=org.admin)).json()
    assert {s["version"] for s in listed} == {1}


async def test_an_interrupted_data_key_rotation_leaves_everything_readable_and_resumes(
    kraliki_client, kraliki_platform, make_org, monkeypatch
):
    org = await make_org("alpha")
    other = await make_org("beta")
    await store(kraliki_client, org)
    await store(kraliki_client, other)
    real = rotation.encrypt_secret
    calls = []

    def crash_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(rotation, "encrypt_secret", crash_on_second)
    with pytest.raises(RuntimeError, match="worker killed"):
        await rotation.rotate_data_key(kraliki_platform.vault, org.id, batch_size=1)
    monkeypatch.setattr(rotation, "encrypt_secret", real)

    assert await data_keys(kraliki_platform, org.id) == [(1, "active"), (2, "primary")]
    assert len(await secret_keys(kraliki_platform, org.id)) == 2  # one moved, one not yet
    kraliki_platform.vault.data_keys.clear()  # as after a restart: keys unwrap afresh
    assert await readable(kraliki_platform, org.id) == VALUES
    # A secret written mid-rotation goes under the new primary key.
    await kraliki_client.put(
        f"{SECRETS}/acme.api_key", headers=org.admin, json={"value": "sk_rotating_key"}
    )

    resumed = await rotation.rotate_data_key(kraliki_platform.vault, org.id)
    assert resumed.resumed is True
    assert resumed.primary_version == 2  # finished, not started again
    assert await data_keys(kraliki_platform, org.id) == [(1, "retired"), (2, "primary")]
    assert len(await secret_keys(kraliki_platform, org.id)) == 1
    assert await readable(kraliki_platform, org.id) == VALUES
    assert await data_keys(kraliki_platform, other.id) == [(1, "primary")]
    assert await readable(kraliki_platform, other.id) == VALUES


async def test_an_interrupted_kek_rotation_resumes_and_the_old_key_can_then_go(
    kraliki_client, kraliki_platform, kraliki_database, make_org, kraliki_extra_plugins
):
    orgs = [await make_org(slug) for slug in ("alpha", "beta", "gamma")]
    for org in orgs:
        await store(kraliki_client, org)
    old = kraliki_database.master_key
    new = new_master_key()
    new_id = LocalKeyProvider.from_text(new).kek_ids[0]

    # A worker restarted with the new key first and the old one kept for unwrapping.
    ring = build_platform(
        kraliki_database.settings(master_key=f"{new},{old}"), kraliki_extra_plugins
    )
    provider = await ring.vault.provider()
    real_wrap = provider.wrap
    wraps = []

    async def fail_on_second(data_key, context):
        wraps.append(1)
        if len(wraps) == 2:
            raise ConnectionError("KMS went away")
        return await real_wrap(data_key, context)

    provider.wrap = fail_on_second  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        await rotation.rotate_kek(ring.vault)
    provider.wrap = real_wrap  # type: ignore[method-assign]
    for org in orgs:
        assert await readable(ring, org.id) == VALUES

    report = await rotation.rotate_kek(ring.vault)
    assert report.kek_id == new_id
    # The token signing key moved first, then the run broke on the first data key.
    assert report.rewrapped == 3
    assert report.remaining == 0
    await ring.database.dispose()

    # Only the new key now: everything still opens; the old key's platform opens nothing.
    fresh = build_platform(kraliki_database.settings(master_key=new), kraliki_extra_plugins)
    for org in orgs:
        assert await readable(fresh, org.id) == VALUES
    assert await fresh.identity.signer() is not None  # the token signing key opens too
    await fresh.database.dispose()
    kraliki_platform.vault.data_keys.clear()
    with pytest.raises(SecretUnavailableError, match="not among the configured master keys"):
        await readable(kraliki_platform, orgs[0].id)
    # Through the API, a secret that no longer opens is a 503 problem, not a crash.
    refused = await kraliki_client.post(f"{SECRETS}/acme.api_key/validate", headers=orgs[0].admin)
    assert refused.status_code == 503
    assert refused.json()["type"] == "/problems/vault-unavailable"
    assert "sk_rotating_key" not in refused.text


async def test_the_cli_rotates(kraliki_client, kraliki_database, make_org, monkeypatch):
    org = await make_org("alpha")
    await store(kraliki_client, org)
    monkeypatch.delenv("KRALIKI_PLUGINS", raising=False)
    monkeypatch.setenv("KRALIKI_DATABASE_URL", kraliki_database.url)
    if kraliki_database.schema:
        monkeypatch.setenv("KRALIKI_DATABASE_SCHEMA", kraliki_database.schema)
    monkeypatch.setenv("KRALIKI_MASTER_KEY", f"{new_master_key()},{kraliki_database.master_key}")

    def run(*args: str):
        return CliRunner().invoke(build_cli(), list(args))

    dek = await asyncio.to_thread(run, "vault", "rotate-dek", "--tenant", "alpha")
    assert dek.exit_code == 0, dek.output
    assert json.loads(dek.stdout)["re_encrypted"] == 2
    kek = await asyncio.to_thread(run, "vault", "rotate-kek")
    assert kek.exit_code == 0, kek.output
    assert json.loads(kek.stdout)["remaining"] == 0
    missing = await asyncio.to_thread(run, "vault", "rotate-dek", "--tenant", "nobody")
    assert missing.exit_code != 0
    assert "no tenant 'nobody'" in missing.output
    key = await asyncio.to_thread(run, "vault", "generate-key")
    assert len(LocalKeyProvider.from_text(key.stdout).kek_ids) == 1
