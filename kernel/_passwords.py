"""Password hashing with Argon2id (argon2-cffi's recommended parameters).

A hash or a verification costs tens to hundreds of milliseconds of CPU by design. Requests
use :func:`verify_password_off_loop` and :func:`hash_password_off_loop`: the work runs in a
small thread pool of its own (argon2 releases the GIL), so a burst of logins or new users
neither stops the worker's event loop, and every other request with it, nor piles up more
hashing threads than there are CPUs.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
_pool: ThreadPoolExecutor | None = None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _hashing_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="argon2")
    return _pool


async def verify_password_off_loop(password_hash: str, password: str) -> bool:
    """:func:`verify_password` in the hashing threads. Call it with no database transaction
    open: a connection held while hashing sits idle in transaction, out of the pool."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_hashing_pool(), verify_password, password_hash, password)


async def hash_password_off_loop(password: str) -> str:
    """:func:`hash_password` in the hashing threads (creating a user, setting a password):
    the event loop keeps serving other requests meanwhile."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_hashing_pool(), hash_password, password)


def generate_password() -> str:
    """A random password for humans to copy (about 128 bits)."""
    return secrets.token_urlsafe(16)
