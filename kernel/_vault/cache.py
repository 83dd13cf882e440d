"""A small LRU with a time-to-live for unwrapped data keys.

Unwrapping goes to the key provider (a KMS round trip in production), so each worker keeps a
few plaintext data keys, briefly: at most ``size`` of them, each for at most ``ttl`` seconds.
Decrypted secret values are never cached.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict


class DataKeyCache:
    def __init__(self, size: int, ttl: float) -> None:
        self.size = size
        self.ttl = ttl
        self._entries: OrderedDict[uuid.UUID, tuple[float, bytes]] = OrderedDict()

    def get(self, key_id: uuid.UUID) -> bytes | None:
        entry = self._entries.get(key_id)
        if entry is None:
            return None
        expires, key = entry
        if time.monotonic() >= expires:
            del self._entries[key_id]
            return None
        self._entries.move_to_end(key_id)
        return key

    def put(self, key_id: uuid.UUID, key: bytes) -> None:
        if self.size <= 0 or self.ttl <= 0:
            return
        self._entries[key_id] = (time.monotonic() + self.ttl, key)
        self._entries.move_to_end(key_id)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
