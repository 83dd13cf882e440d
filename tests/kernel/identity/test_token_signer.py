"""The access-token signer's cache of verified tokens must never outlive a token."""

from __future__ import annotations

import time
import uuid

import pytest

from kernel._identity import tokens
from kernel._identity.tokens import AccessClaims, InvalidToken, TokenSigner

CLAIMS = AccessClaims(
    subject=uuid.uuid4(), kind="user", tenant_id=uuid.uuid4(), session_id=uuid.uuid4()
)


def test_a_cached_token_still_expires():
    signer = TokenSigner("k" * 40, ttl_seconds=1)
    token = signer.issue(CLAIMS)
    assert signer.verify(token) == CLAIMS
    assert signer.verify(token) == CLAIMS  # from the cache
    time.sleep(2.1)  # exp has whole-second resolution
    with pytest.raises(InvalidToken):
        signer.verify(token)


def test_the_cache_does_not_accept_other_keys_tokens():
    signer = TokenSigner("k" * 40, ttl_seconds=60)
    other = TokenSigner("o" * 40, ttl_seconds=60)
    token = other.issue(CLAIMS)
    assert other.verify(token) == CLAIMS
    with pytest.raises(InvalidToken):
        signer.verify(token)


def test_the_cache_stays_bounded(monkeypatch):
    monkeypatch.setattr(tokens, "MAX_VERIFIED", 3)
    signer = TokenSigner("k" * 40, ttl_seconds=60)
    for _ in range(10):
        claims = AccessClaims(uuid.uuid4(), "user", uuid.uuid4(), uuid.uuid4())
        assert signer.verify(signer.issue(claims)) == claims
    assert len(signer._verified) <= 3
