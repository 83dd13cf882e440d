"""Credential formats: signed access tokens (JWT) and opaque refresh tokens and API keys.

Opaque secrets carry the tenant they belong to in clear (``<kind>_<tenant hex>_<secret>``)
so the lookup can run inside that tenant's scope (row-level security); only the SHA-256 of
the whole string is stored.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt

from kernel._models import utcnow
from kernel._principal import PrincipalKind

REFRESH_PREFIX = "krt"
API_KEY_PREFIX = "kvk"
PLATFORM_SCOPE = "platform"
ALGORITHM = "HS256"
ISSUER = "kraliki"
MAX_VERIFIED = 100_000


class InvalidToken(Exception):
    """The credential is malformed, forged, expired or of the wrong kind."""


def digest(secret: str) -> str:
    """Stored form of a high-entropy secret (a KDF adds nothing at 256 bits of entropy)."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class OpaqueToken:
    kind: str
    tenant_id: uuid.UUID | None
    value: str

    @property
    def hash(self) -> str:
        return digest(self.value)


def new_opaque(kind: str, tenant_id: uuid.UUID | None) -> OpaqueToken:
    scope = tenant_id.hex if tenant_id is not None else PLATFORM_SCOPE
    return OpaqueToken(kind, tenant_id, f"{kind}_{scope}_{secrets.token_urlsafe(32)}")


def parse_opaque(value: str, kind: str) -> OpaqueToken:
    parts = value.split("_", 2)
    if len(parts) != 3 or parts[0] != kind or len(parts[2]) < 32:
        raise InvalidToken(f"not a {kind} token")
    if parts[1] == PLATFORM_SCOPE:
        return OpaqueToken(kind, None, value)
    try:
        return OpaqueToken(kind, uuid.UUID(hex=parts[1]), value)
    except ValueError as exc:
        raise InvalidToken(f"not a {kind} token") from exc


@dataclass(frozen=True, slots=True)
class AccessClaims:
    subject: uuid.UUID
    kind: PrincipalKind
    tenant_id: uuid.UUID | None
    session_id: uuid.UUID


class TokenSigner:
    """Issues and checks access tokens with the platform's signing key."""

    def __init__(self, key: str, ttl_seconds: int) -> None:
        self._key = key
        self.ttl_seconds = ttl_seconds
        # Verified tokens, until they expire: the signature check is deterministic, and the
        # database check of the session and user still runs on every request.
        self._verified: dict[str, tuple[float, AccessClaims]] = {}

    def issue(self, claims: AccessClaims) -> str:
        now = utcnow()
        payload: dict[str, Any] = {
            "iss": ISSUER,
            "sub": str(claims.subject),
            "knd": claims.kind,
            "sid": str(claims.session_id),
            "iat": now,
            "exp": now + timedelta(seconds=self.ttl_seconds),
        }
        if claims.tenant_id is not None:
            payload["tid"] = str(claims.tenant_id)
        return jwt.encode(payload, self._key, algorithm=ALGORITHM)

    def verify(self, token: str) -> AccessClaims:
        cached = self._verified.get(token)
        now = time.time()
        if cached is not None and cached[0] > now:
            return cached[1]
        claims, expires = self._decode(token)
        if len(self._verified) >= MAX_VERIFIED:
            self._verified = {t: c for t, c in self._verified.items() if c[0] > now}
            if len(self._verified) >= MAX_VERIFIED:
                self._verified.clear()
        self._verified[token] = (expires, claims)
        return claims

    def _decode(self, token: str) -> tuple[AccessClaims, float]:
        try:
            payload = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "sid", "knd"]},
            )
            kind = payload["knd"]
            if kind not in ("operator", "user"):
                raise InvalidToken("unknown principal kind")
            tenant = payload.get("tid")
            if (kind == "user") != (tenant is not None):
                raise InvalidToken("tenant claim does not match the principal kind")
            claims = AccessClaims(
                subject=uuid.UUID(payload["sub"]),
                kind=kind,
                tenant_id=uuid.UUID(tenant) if tenant else None,
                session_id=uuid.UUID(payload["sid"]),
            )
            return claims, float(payload["exp"])
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise InvalidToken(str(exc)) from exc
