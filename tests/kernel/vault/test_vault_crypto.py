"""The ciphertext formats: bound to tenant, name and version; tampering fails."""

from __future__ import annotations

import pickle
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from kernel import SecretValue
from kernel._vault.cache import DataKeyCache
from kernel._vault.crypto import (
    VaultCryptoError,
    data_key_aad,
    decrypt_secret,
    encrypt_secret,
    new_data_key,
)
from kernel._vault.keys import (
    KeyProviderError,
    LocalKeyProvider,
    decode_master_key,
    load_key_file,
    new_master_key,
    prepend_key,
)

TENANT_A, TENANT_B = uuid.uuid4(), uuid.uuid4()
KEY_ID = uuid.uuid4()


def test_a_secret_decrypts_only_where_it_was_sealed():
    key = new_data_key()
    sealed = encrypt_secret(key, KEY_ID, TENANT_A, "acme.api_key", 3, "sk_live_1")
    assert decrypt_secret(key, sealed, TENANT_A, "acme.api_key", 3) == "sk_live_1"
    for tenant, name, version in [
        (TENANT_B, "acme.api_key", 3),
        (TENANT_A, "acme.other", 3),
        (TENANT_A, "acme.api_key", 2),
    ]:
        with pytest.raises(VaultCryptoError):
            decrypt_secret(key, sealed, tenant, name, version)


def test_tampering_with_any_byte_fails_authentication():
    key = new_data_key()
    sealed = encrypt_secret(key, KEY_ID, TENANT_A, "acme.api_key", 1, "sk_live_1")
    for index in (1, 17, 30, len(sealed) - 1):  # key id, nonce, body, tag
        forged = bytearray(sealed)
        forged[index] ^= 0x01
        with pytest.raises(VaultCryptoError):
            decrypt_secret(key, bytes(forged), TENANT_A, "acme.api_key", 1)
    with pytest.raises(VaultCryptoError, match="format"):
        decrypt_secret(key, b"\x02" + sealed[1:], TENANT_A, "acme.api_key", 1)


def test_every_encryption_uses_a_fresh_nonce():
    key = new_data_key()
    first = encrypt_secret(key, KEY_ID, TENANT_A, "acme.api_key", 1, "same")
    second = encrypt_secret(key, KEY_ID, TENANT_A, "acme.api_key", 1, "same")
    assert first[17:29] != second[17:29]
    assert first != second


async def test_a_wrapped_data_key_is_bound_to_its_tenant_and_version():
    provider = LocalKeyProvider.from_text(new_master_key())
    data_key = new_data_key()
    wrapped = await provider.wrap(data_key, data_key_aad(TENANT_A, 1))
    assert await provider.unwrap(wrapped, data_key_aad(TENANT_A, 1)) == data_key
    for context in (data_key_aad(TENANT_B, 1), data_key_aad(TENANT_A, 2)):
        with pytest.raises(KeyProviderError):
            await provider.unwrap(wrapped, context)


async def test_previous_master_keys_unwrap_but_only_the_first_wraps():
    old, new = new_master_key(), new_master_key()
    wrapped = await LocalKeyProvider.from_text(old).wrap(b"k" * 32, b"ctx")
    ring = LocalKeyProvider.from_text(f"{new},{old}")
    assert await ring.unwrap(wrapped, b"ctx") == b"k" * 32
    assert (await ring.wrap(b"k" * 32, b"ctx")).kek_id == await ring.current_kek_id()
    assert await ring.current_kek_id() != wrapped.kek_id
    with pytest.raises(KeyProviderError, match="not among the configured master keys"):
        await LocalKeyProvider.from_text(new).unwrap(wrapped, b"ctx")


def test_master_keys_are_checked():
    with pytest.raises(KeyProviderError, match="32 bytes"):
        decode_master_key("c2hvcnQ")
    with pytest.raises(KeyProviderError, match="base64"):
        decode_master_key("not base64 at all!")
    with pytest.raises(KeyProviderError, match="no master key"):
        LocalKeyProvider.from_text("# only a comment\n")


def test_the_key_file_is_created_private_and_keys_can_be_prepended(tmp_path):
    path = tmp_path / "var" / "master.key"
    with pytest.raises(KeyProviderError):
        load_key_file(path, create=False)
    first = LocalKeyProvider.from_text(load_key_file(path, create=True))
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_key_file(path, create=True) == path.read_text()  # not regenerated
    prepend_key(path, new_master_key())
    ring = LocalKeyProvider.from_text(path.read_text())
    assert ring.kek_ids[1] == first.kek_ids[0]
    assert ring.kek_ids[0] != first.kek_ids[0]
    assert path.stat().st_mode & 0o777 == 0o600


def test_processes_starting_together_share_one_generated_key(tmp_path):
    """Two servers started at once on a fresh machine: both read the same whole key file
    (a half-written file, or a second key, would fail one of them or split the vault)."""
    path = tmp_path / "master.key"
    start = threading.Barrier(8)

    def load() -> str:
        start.wait()
        return load_key_file(path, create=True)

    with ThreadPoolExecutor(max_workers=8) as pool:
        texts = list(pool.map(lambda _: load(), range(8)))
    assert set(texts) == {path.read_text()}
    assert [p.name for p in tmp_path.iterdir()] == ["master.key"]  # no drafts left behind


def test_a_secret_value_never_prints_itself():
    value = SecretValue("sk_live_canary")
    for text in (repr(value), str(value), f"{value}", f"{value!r}", f"{value}"):
        assert "sk_live_canary" not in text
    assert value.reveal() == "sk_live_canary"
    assert value == SecretValue("sk_live_canary")
    assert value != SecretValue("other")
    with pytest.raises(TypeError):
        pickle.dumps(value)


def test_the_data_key_cache_is_bounded_and_expires(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr("kernel._vault.cache.time.monotonic", lambda: now[0])
    cache = DataKeyCache(size=2, ttl=60)
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    cache.put(a, b"a")
    cache.put(b, b"b")
    assert cache.get(a) == b"a"  # a is now the most recent
    cache.put(c, b"c")
    assert cache.get(b) is None  # evicted: least recently used
    assert cache.get(a) == b"a"
    now[0] += 61
    assert cache.get(a) is None
    assert len(cache) == 1  # c expired too but is only dropped when read
    off = DataKeyCache(size=0, ttl=60)
    off.put(a, b"a")
    assert off.get(a) is None
