"""Key providers: where the key-encryption key (KEK) lives and how data keys are wrapped.

The default :class:`LocalKeyProvider` holds master keys in process memory, read from
``KRALIKI_MASTER_KEY`` or a key file. A plugin can supply another provider (AWS KMS, Vault
transit, an HSM) through the ``kraliki_vault_key_provider`` hook: the vault only ever asks a
provider to wrap and unwrap 32-byte data keys, so the KEK itself never has to leave it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from kernel._vault.crypto import KEY_BYTES, VaultCryptoError, open_sealed, seal

logger = logging.getLogger("kraliki.vault")


class KeyProviderError(Exception):
    """The key provider cannot serve: no key configured, unknown KEK, provider down."""


@dataclass(frozen=True, slots=True)
class WrappedKey:
    kek_id: str
    """Which key-encryption key wrapped it (provider-specific, never secret)."""
    blob: bytes


@runtime_checkable
class KeyProvider(Protocol):
    """What the vault needs from a KEK holder. ``context`` is associated data the provider
    must bind the wrapped key to (KMS: EncryptionContext; Vault transit: ``context``)."""

    name: str

    async def current_kek_id(self) -> str:
        """The KEK new wraps use; ``kraliki vault rotate-kek`` re-wraps the others to it."""
        ...

    async def wrap(self, data_key: bytes, context: bytes) -> WrappedKey: ...

    async def unwrap(self, wrapped: WrappedKey, context: bytes) -> bytes: ...


def encode_master_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode().rstrip("=")


def decode_master_key(text: str) -> bytes:
    text = text.strip()
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise KeyProviderError("a master key is not valid base64url") from None
    if len(key) != KEY_BYTES:
        raise KeyProviderError(f"a master key must be {KEY_BYTES} bytes (got {len(key)})")
    return key


def new_master_key() -> str:
    return encode_master_key(os.urandom(KEY_BYTES))


def kek_fingerprint(key: bytes) -> str:
    """A public name for a master key: identifies it without revealing anything useful."""
    return "local:" + hashlib.sha256(b"kraliki-kek-id|" + key).hexdigest()[:16]


class LocalKeyProvider:
    """Master keys held by this process. The first key wraps; the others (previous keys kept
    during a KEK rotation) still unwrap until every data key has been re-wrapped."""

    name = "local"

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise KeyProviderError("no master key configured")
        self._keys = {kek_fingerprint(key): key for key in keys}
        self._current = kek_fingerprint(keys[0])

    @classmethod
    def from_text(cls, text: str) -> LocalKeyProvider:
        """Keys separated by commas or newlines, newest first; ``#`` starts a comment line."""
        lines = [line for line in text.splitlines() if not line.strip().startswith("#")]
        parts = [part.strip() for line in lines for part in line.split(",")]
        return cls([decode_master_key(part) for part in parts if part])

    @property
    def kek_ids(self) -> list[str]:
        return list(self._keys)

    async def current_kek_id(self) -> str:
        return self._current

    async def wrap(self, data_key: bytes, context: bytes) -> WrappedKey:
        return WrappedKey(self._current, seal(self._keys[self._current], data_key, context))

    async def unwrap(self, wrapped: WrappedKey, context: bytes) -> bytes:
        key = self._keys.get(wrapped.kek_id)
        if key is None:
            raise KeyProviderError(
                f"data key was wrapped by {wrapped.kek_id}, which is not among the configured "
                f"master keys ({', '.join(self._keys)}): set KRALIKI_MASTER_KEY (or the key "
                "file) to include it"
            )
        try:
            return open_sealed(key, wrapped.blob, context)
        except VaultCryptoError:
            raise KeyProviderError(f"data key did not unwrap under {wrapped.kek_id}") from None


KEY_FILE_HEADER = (
    "# Kraliki Voice vault master keys (base64url, 32 bytes each), newest first.\n"
    "# Anyone holding this file and a database dump can read every tenant's secrets:\n"
    "# keep it out of backups of the database and out of version control.\n"
)


def load_key_file(path: Path, *, create: bool) -> str:
    """The key file's text; with ``create``, a new key is generated when the file is missing
    (development only: production sets KRALIKI_MASTER_KEY or provisions the file)."""
    if path.exists():
        return path.read_text()
    if not create:
        raise KeyProviderError(f"no master key: set KRALIKI_MASTER_KEY or create {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    text = KEY_FILE_HEADER + new_master_key() + "\n"
    # Written whole under a private name, then linked into place: two processes starting
    # together never read a half-written file, and the one that loses the race reads the
    # winner's key instead of failing (or each keeping a key of its own).
    draft = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:
            return path.read_text()
    finally:
        draft.unlink(missing_ok=True)
    banner = "!" * 78
    logger.warning(
        "\n%s\nGENERATED A NEW VAULT MASTER KEY in %s\n"
        "Every tenant secret will be encrypted under it. Losing this file makes those\n"
        "secrets unreadable; copying it with a database dump exposes them. For anything\n"
        "beyond a laptop, set KRALIKI_MASTER_KEY from a secret manager (see\n"
        "docs/security/vault.md).\n%s",
        banner,
        path,
        banner,
    )
    return text


def prepend_key(path: Path, key: str) -> None:
    """Put a new master key first in the key file (the old ones stay, to unwrap)."""
    old = path.read_text() if path.exists() else KEY_FILE_HEADER
    lines = old.splitlines(keepends=True)
    comments = [line for line in lines if line.startswith("#")]
    rest = [line for line in lines if not line.startswith("#")]
    tmp = path.with_suffix(".tmp")
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write("".join(comments) + key + "\n" + "".join(rest))
    tmp.replace(path)
