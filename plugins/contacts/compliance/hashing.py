"""Numbers of erased contacts, kept as keyed hashes so the person is still not called.

The hash is HMAC-SHA256 of the E.164 number under a key of the tenant's own, kept in the
vault (a managed secret the plugin generates on the first erasure): with the database alone
nobody can test guesses against the hashes, and two tenants' hashes of one number differ.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import weakref
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from kernel import Platform, SecretSpec
from plugins.contacts.models import ConsentRecord, DncEntry

PLUGIN = "contacts"
HASH_KEY = SecretSpec(
    "contacts.number_hash",
    "Key of the hashes that keep erased contacts' numbers on the do-not-call list (one per "
    "organization; generated on its first erasure).",
    kind="signing_key",
    managed=True,
)
HASH_KEY_NAME = HASH_KEY.instance("default")
SECRETS = [HASH_KEY]
_PURPOSE = "match numbers against erased contacts' do-not-call entries"


_PLATFORMS: weakref.WeakKeyDictionary[Engine, Platform] = weakref.WeakKeyDictionary()


def register_platform(platform: Platform) -> None:
    """Remember the platform of this database (at startup), so :func:`platform_of` finds it
    from a session: ``is_callable`` takes only a session, as a dialer has one at hand."""
    _PLATFORMS[platform.database.engine.sync_engine] = platform


def platform_of(session: AsyncSession) -> Platform:
    bind = session.bind
    engine = bind.sync_engine if isinstance(bind, AsyncEngine) else None
    platform = _PLATFORMS.get(engine) if engine is not None else None
    if platform is None:
        raise RuntimeError("this session's database belongs to no started platform")
    return platform


def digest(key: str, e164: str) -> str:
    """64 hex digits: HMAC-SHA256 of the E.164 number under ``key``."""
    return hmac.new(key.encode(), e164.encode(), hashlib.sha256).hexdigest()


async def hash_key(platform: Platform, session: AsyncSession) -> str | None:
    """The tenant's key, or None before its first erasure (then no hash can match).

    Read through the vault's per-worker cache: it runs before every dial."""
    value = await platform.vault.reveal_cached(
        session, HASH_KEY_NAME, plugin=PLUGIN, purpose=_PURPOSE
    )
    return None if value is None else value.reveal()


async def hash_number(platform: Platform, session: AsyncSession, e164: str) -> str | None:
    """The number's hash under the tenant's key, or None when the tenant has no key yet."""
    key = await hash_key(platform, session)
    return None if key is None else digest(key, e164)


async def _key_for_writing(platform: Platform, session: AsyncSession) -> str:
    """The tenant's key, created in ``session`` when it has none (it commits with the
    hashes it makes: no key without hashes, no hashes without their key)."""
    existing = await hash_key(platform, session)
    if existing is not None:
        return existing
    value = secrets.token_hex(32)
    try:
        async with session.begin_nested():
            await platform.vault.store(session, HASH_KEY_NAME, value, plugin=PLUGIN)
    except IntegrityError:  # another erasure created it first: use theirs
        theirs = await platform.vault.reveal(
            HASH_KEY_NAME, plugin=PLUGIN, purpose=_PURPOSE, job="contacts-erasure"
        )
        if theirs is None:
            raise
        return theirs.reveal()
    return value


async def keep_erased_numbers(
    platform: Platform, session: AsyncSession, numbers: Sequence[str]
) -> None:
    """Replace ``numbers`` (E.164) by their hashes in the do-not-call list and the consent
    ledger, in the erasure's ``session`` (not committed here); idempotent.

    A DNC entry of a number keeps its reason, source and dates; its ``value`` becomes empty
    and ``number_hash`` holds the hash, so :func:`is_callable` still refuses the number.
    Consent records keep their lines, the number replaced by its hash.

    The vault is read only when one of the numbers is listed or in the ledger. On SQLite,
    call it before the erasure's own writes: reading the tenant's key may take a
    transaction of its own (as ``platform.vault.reveal`` does), which waits for the
    erasure's write lock.
    """
    wanted = sorted({n for n in numbers if n})
    if not wanted or not await _held(session, wanted):
        return
    key = await _key_for_writing(platform, session)
    for e164 in wanted:
        hashed = digest(key, e164)
        entries = await session.scalars(
            select(DncEntry).where(DncEntry.kind == "number", DncEntry.value == e164)
        )
        for entry in entries:
            already = await session.scalar(
                select(DncEntry.id).where(
                    DncEntry.kind == "number", DncEntry.value == "", DncEntry.number_hash == hashed
                )
            )
            if already is not None:  # the hash is listed already (an earlier erasure)
                await session.delete(entry)
            else:
                entry.value = ""
                entry.number_hash = hashed
        await session.flush()
        await session.execute(
            update(ConsentRecord).where(ConsentRecord.number == e164).values(number=hashed)
        )


async def warm_key(platform: Platform, session: AsyncSession, numbers: Sequence[str]) -> None:
    """Read the tenant's key into the worker's cache before an erasure writes anything, when
    :func:`keep_erased_numbers` will need it: filling the cache takes a transaction of its own
    (the audited reveal), which on SQLite would wait for the erasure's write lock."""
    wanted = sorted({n for n in numbers if n})
    if wanted and await _held(session, wanted):
        await hash_key(platform, session)


async def _held(session: AsyncSession, numbers: Sequence[str]) -> bool:
    """Whether the DNC list or the ledger holds one of ``numbers`` in plain."""
    listed = await session.scalar(
        select(DncEntry.id).where(DncEntry.kind == "number", DncEntry.value.in_(numbers)).limit(1)
    )
    if listed is not None:
        return True
    consented = await session.scalar(
        select(ConsentRecord.id).where(ConsentRecord.number.in_(numbers)).limit(1)
    )
    return consented is not None
