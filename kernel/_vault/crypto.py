"""AES-256-GCM envelope formats: data keys wrapped by the KEK, secrets sealed by a data key.

Every ciphertext is bound to where it belongs through the associated data (AAD), so a row
copied to another tenant, another secret name or another version fails authentication
instead of decrypting. Nonces are random 96-bit values, fresh for every encryption.

Secret ciphertext layout (format 1)::

    0x01 | data key id (16 bytes, UUID) | nonce (12) | AES-GCM ciphertext + tag (16)

The header (format and data key id) is authenticated too: it is part of the AAD.
"""

from __future__ import annotations

import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SECRET_FORMAT = 1
KEY_BYTES = 32
NONCE_BYTES = 12
_HEADER = 1 + 16 + NONCE_BYTES


class VaultCryptoError(Exception):
    """A ciphertext that does not decrypt: wrong key, wrong binding, or tampered."""


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def data_key_aad(tenant_id: uuid.UUID, version: int) -> bytes:
    """What a wrapped data key is bound to: its tenant and its version."""
    return b"kraliki:dek:v1|" + tenant_id.bytes + b"|" + str(version).encode()


def secret_aad(tenant_id: uuid.UUID, name: str, version: int) -> bytes:
    """What a secret's ciphertext is bound to: format, tenant, name and version."""
    return (
        f"kraliki:secret:v{SECRET_FORMAT}|".encode()
        + tenant_id.bytes
        + b"|"
        + name.encode()
        + b"|"
        + str(version).encode()
    )


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """nonce | ciphertext+tag under ``key``."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    if len(sealed) < NONCE_BYTES + 16:
        raise VaultCryptoError("ciphertext too short")
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except InvalidTag:
        raise VaultCryptoError("ciphertext failed authentication") from None


def encrypt_secret(
    key: bytes, data_key_id: uuid.UUID, tenant_id: uuid.UUID, name: str, version: int, value: str
) -> bytes:
    header = bytes([SECRET_FORMAT]) + data_key_id.bytes
    return header + seal(key, value.encode(), header + secret_aad(tenant_id, name, version))


def secret_data_key_id(ciphertext: bytes) -> uuid.UUID:
    """Which data key sealed a secret (read from the header, before decrypting)."""
    if len(ciphertext) < _HEADER or ciphertext[0] != SECRET_FORMAT:
        raise VaultCryptoError("unknown secret ciphertext format")
    return uuid.UUID(bytes=ciphertext[1:17])


def decrypt_secret(
    key: bytes, ciphertext: bytes, tenant_id: uuid.UUID, name: str, version: int
) -> str:
    secret_data_key_id(ciphertext)  # validates the header
    header = ciphertext[:17]
    aad = header + secret_aad(tenant_id, name, version)
    return open_sealed(key, ciphertext[17:], aad).decode()
