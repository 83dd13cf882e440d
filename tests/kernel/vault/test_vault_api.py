"""/api/v1/vault/secrets through HTTP: write-only values, metadata, RBAC, tenants apart."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select, text, update

from kernel import SecretAccessError, VaultError, tenant_scope
from kernel._identity.models import AuditEvent
from kernel._vault.models import VaultSecret

from .conftest import SECRETS

API_KEY = "sk_live_4f9a0c2e7d1b"
ACCOUNT = "AC0123abcd"


def problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"] == f"/problems/{slug}"
    return body


async def test_put_list_get_delete_never_show_the_value(kraliki_client, make_org):
    org = await make_org("alpha")
    created = await kraliki_client.put(
        f"{SECRETS}/acme.api_key", headers=org.admin, json={"value": API_KEY}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == "acme.api_key"
    assert body["plugin"] == "acme"
    assert body["kind"] == "api_key"
    assert body["version"] == 1
    assert body["fingerprint"] == hashlib.sha256(API_KEY.encode()).hexdigest()[:12]
    assert body["last_used_at"] is None

    replaced = await kraliki_client.put(
        f"{SECRETS}/acme.api_key", headers=org.integrator, json={"value": API_KEY + "x"}
    )
    assert replaced.status_code == 200
    assert replaced.json()["version"] == 2
    assert replaced.json()["fingerprint"] != body["fingerprint"]

    listing = await kraliki_client.get(SECRETS, headers=org.admin)
    one = await kraliki_client.get(f"{SECRETS}/acme.api_key", headers=org.admin)
    declared = await kraliki_client.get("/api/v1/vault/declarations", headers=org.admin)
    for response in (created, replaced, listing, one, declared):
        assert API_KEY not in response.text
    assert [s["name"] for s in listing.json()] == ["acme.api_key"]
    assert {d["name"]: d["stored"] for d in declared.json() if d["plugin"] == "acme"} == {
        "acme.api_key": True,
        "acme.account_id": False,
    }

    deleted = await kraliki_client.delete(f"{SECRETS}/acme.api_key", headers=org.admin)
    assert deleted.status_code == 204
    problem(
        await kraliki_client.get(f"{SECRETS}/acme.api_key", headers=org.admin), 404, "not-found"
    )
    problem(
        await kraliki_client.delete(f"{SECRETS}/acme.api_key", headers=org.admin), 404, "not-found"
    )


async def test_the_database_holds_only_ciphertext(kraliki_client, kraliki_platform, make_org):
    org = await make_org("alpha")
    await kraliki_client.put(f"{SECRETS}/acme.api_key", headers=org.admin, json={"value": API_KEY})
    with tenant_scope(org.id):
        async with kraliki_platform.database.session() as session:
            row = await session.scalar(select(VaultSecret))
            keys = (await session.execute(text("SELECT wrapped_key FROM vault_data_keys"))).all()
    assert API_KEY.encode() not in row.ciphertext
    assert len(keys) == 1
    assert len(keys[0][0]) == 12 + 32 + 16  # nonce, wrapped 256-bit key, tag


async def test_puts_and_deletes_are_in_the_audit_log_without_values(
    kraliki_client, kraliki_platform, make_org
):
    org = await make_org("alpha")
    await kraliki_client.put(f"{SECRETS}/acme.api_key", headers=org.admin, json={"value": API_KEY})
    await kraliki_client.put(f"{SECRETS}/acme.api_key", headers=org.admin, json={"value": API_KEY})
    await kraliki_client.delete(f"{SECRETS}/acme.api_key", headers=org.admin)
    with tenant_scope(org.id):
        async with kraliki_platform.database.session() as session:
            events = (
                await session.scalars(
                    select(AuditEvent)
                    .where(AuditEvent.action.startswith("vault."))
                    .order_by(AuditEvent.occurred_at)
                )
            ).all()
    assert [e.action for e in events] == [
        "vault.secret.created",
        "vault.secret.replaced",
        "vault.secret.deleted",
    ]
    assert all(e.target_id == "acme.api_key" for e in events)
    assert API_KEY not in repr([e.details for e in events])


async def test_bad_input_is_refused_without_echoing_it(kraliki_client, make_org):
    org = await make_org("alpha")
    undeclared = await kraliki_client.put(
        f"{SECRETS}/nobody.auth_token", headers=org.admin, json={"value": API_KEY}
    )
    assert API_KEY not in problem(undeclared, 404, "vault-unknown-secret")["detail"]
    for value, reason in [
        ("", "empty"),
        (" " + API_KEY, "whitespace"),
        ("x" * 5000, "longer than 4096"),
    ]:
        response = await kraliki_client.put(
            f"{SECRETS}/acme.api_key", headers=org.admin, json={"value": value}
        )
        body = problem(response, 422, "vault-invalid-secret-value")
        assert reason in body["detail"]
        assert API_KEY not in response.text
    wrong_format = await kraliki_client.put(
        f"{SECRETS}/acme.account_id", headers=org.admin, json={"value": API_KEY}
    )
    assert API_KEY not in problem(wrong_format, 422, "vault-invalid-secret-value")["detail"]
    extra = await kraliki_client.put(
        f"{SECRETS}/acme.api_key", headers=org.admin, json={"value": API_KEY, "also": API_KEY}
    )
    assert extra.status_code == 422
    assert API_KEY not in extra.text
    assert (await kraliki_client.get(SECRETS, headers=org.admin)).json() == []


async def test_roles(kraliki_client, make_org):
    org = await make_org("alpha")
    for method, path, body in [
        ("GET", SECRETS, None),
        ("PUT", f"{SECRETS}/acme.api_key", {"value": API_KEY}),
        ("POST", f"{SECRETS}/acme.api_key/validate", None),
        ("GET", "/api/v1/vault/keys", None),
        ("POST", "/api/v1/vault/keys/rotate", None),
        ("GET", "/api/v1/vault/audit", None),
    ]:
        response = await kraliki_client.request(method, path, headers=org.agent, json=body)
        problem(response, 403, "forbidden")
    # Integrators keep keys; only admins (and owners) see data keys, rotate and read the log.
    ok = await kraliki_client.put(
        f"{SECRETS}/acme.api_key", headers=org.integrator, json={"value": API_KEY}
    )
    assert ok.status_code == 201
    for path in ("/api/v1/vault/keys", "/api/v1/vault/audit"):
        problem(await kraliki_client.get(path, headers=org.integrator), 403, "forbidden")
        assert (await kraliki_client.get(path, headers=org.admin)).status_code == 200


async def test_tenants_never_see_each_others_secrets(kraliki_client, make_org):
    alpha, beta = await make_org("alpha"), await make_org("beta")
    await kraliki_client.put(
        f"{SECRETS}/acme.api_key", headers=alpha.admin, json={"value": API_KEY}
    )
    assert (await kraliki_client.get(SECRETS, headers=beta.admin)).json() == []
    problem(
        await kraliki_client.get(f"{SECRETS}/acme.api_key", headers=beta.admin), 404, "not-found"
    )
    problem(
        await kraliki_client.delete(f"{SECRETS}/acme.api_key", headers=beta.admin), 404, "not-found"
    )
    assert (await kraliki_client.get(SECRETS, headers=alpha.admin)).json()[0]["version"] == 1


async def test_a_ciphertext_copied_to_another_tenant_or_name_does_not_decrypt(
    kraliki_client, kraliki_platform, make_org
):
    """A database-level attacker moves A's sealed key into B's row (same name, even the same
    data key id): the associated data binds it to A, so B's decryption fails (and is logged
    as a failed access), it never yields A's key."""
    alpha, beta = await make_org("alpha"), await make_org("beta")
    await kraliki_client.put(
        f"{SECRETS}/acme.api_key", headers=alpha.admin, json={"value": API_KEY}
    )
    await kraliki_client.put(
        f"{SECRETS}/acme.api_key", headers=beta.admin, json={"value": "sk_beta_own_key"}
    )
    await kraliki_client.put(
        f"{SECRETS}/acme.account_id", headers=alpha.admin, json={"value": ACCOUNT}
    )
    vault = kraliki_platform.vault
    with tenant_scope(alpha.id):
        async with kraliki_platform.database.session() as session:
            stolen = await session.scalar(
                select(VaultSecret).where(VaultSecret.name == "acme.api_key")
            )
    with tenant_scope(beta.id):
        async with kraliki_platform.database.session() as session:
            await session.execute(
                update(VaultSecret)
                .where(VaultSecret.name == "acme.api_key")
                .values(ciphertext=stolen.ciphertext, version=stolen.version)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
    with pytest.raises(VaultError, match="could not be decrypted") as refused:
        await vault.reveal("acme.api_key", plugin="acme", purpose="test", tenant_id=beta.id)
    assert API_KEY not in str(refused.value)
    # Within one tenant, a ciphertext moved to another name fails the same way.
    with tenant_scope(alpha.id):
        async with kraliki_platform.database.session() as session:
            await session.execute(
                update(VaultSecret)
                .where(VaultSecret.name == "acme.account_id")
                .values(ciphertext=stolen.ciphertext, version=stolen.version)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
    with pytest.raises(VaultError, match="could not be decrypted"):
        await vault.reveal("acme.account_id", plugin="acme", purpose="test", tenant_id=alpha.id)
    # The untouched secret still reads, and the failures are in A's and B's access logs.
    value = await vault.reveal("acme.api_key", plugin="acme", purpose="test", tenant_id=alpha.id)
    assert value.reveal() == API_KEY
    log = await kraliki_client.get(
        "/api/v1/vault/audit", headers=beta.admin, params={"secret": "acme.api_key"}
    )
    assert [e["outcome"] for e in log.json()["items"]] == ["failure"]


async def test_validation_asks_the_owning_plugin_and_records_the_result(kraliki_client, make_org):
    org = await make_org("alpha")
    validate = f"{SECRETS}/acme.api_key/validate"
    problem(await kraliki_client.post(validate, headers=org.admin), 404, "not-found")
    await kraliki_client.put(f"{SECRETS}/acme.api_key", headers=org.admin, json={"value": API_KEY})
    first = await kraliki_client.post(validate, headers=org.admin)
    assert first.json()["status"] == "invalid"
    assert first.json()["detail"] == "store acme.account_id first"
    await kraliki_client.put(
        f"{SECRETS}/acme.account_id", headers=org.admin, json={"value": ACCOUNT}
    )
    second = await kraliki_client.post(validate, headers=org.integrator)
    assert second.status_code == 200
    assert second.json()["status"] == "valid"
    stored = (await kraliki_client.get(f"{SECRETS}/acme.api_key", headers=org.admin)).json()
    assert stored["validation_status"] == "valid"
    assert stored["validated_at"] is not None
    assert stored["last_used_at"] is not None
    problem(
        await kraliki_client.post(f"{SECRETS}/acme.account_id/validate", headers=org.admin),
        409,
        "vault-no-validator",
    )
    # Replacing the key forgets the old verdict.
    await kraliki_client.put(f"{SECRETS}/acme.api_key", headers=org.admin, json={"value": "bad"})
    assert (await kraliki_client.get(f"{SECRETS}/acme.api_key", headers=org.admin)).json()[
        "validation_status"
    ] is None
    assert (await kraliki_client.post(validate, headers=org.admin)).json()["status"] == "invalid"


async def test_managed_secrets_are_stored_by_their_plugin_only(
    kraliki_client, kraliki_platform, make_org
):
    """A managed spec (one value per object, stored by the plugin: webhook signing secrets)
    cannot be put or deleted through the API; the plugin stores, reveals and forgets it."""
    org = await make_org("acme")
    refused = await kraliki_client.put(
        f"{SECRETS}/webhooks.signing.abc123", headers=org.admin, json={"value": "whsec_x"}
    )
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("/vault-managed-secret")
    vault = kraliki_platform.vault
    name = vault.spec("webhooks.signing").instance("abc123")
    with tenant_scope(org.id):
        async with kraliki_platform.database.session() as session:
            await vault.store(session, name, "whsec_managed_value", plugin="webhooks")
            await session.commit()
        with pytest.raises(SecretAccessError):
            await vault.reveal(name, plugin="acme", purpose="not mine")
        value = await vault.reveal(name, plugin="webhooks", purpose="sign", job="test")
        assert value is not None
        assert value.reveal() == "whsec_managed_value"
    declared = await kraliki_client.get("/api/v1/vault/declarations", headers=org.admin)
    [signing] = [d for d in declared.json() if d["name"] == "webhooks.signing"]
    assert signing["managed"] is True
    assert signing["stored"] is True
    deleting = await kraliki_client.delete(f"{SECRETS}/{name}", headers=org.admin)
    assert deleting.status_code == 409
    with tenant_scope(org.id):
        async with kraliki_platform.database.session() as session:
            assert await vault.forget(session, name, plugin="webhooks")
            await session.commit()
    gone = await kraliki_client.get(f"{SECRETS}/{name}", headers=org.admin)
    assert gone.status_code == 404
