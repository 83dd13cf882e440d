"""A burst of logins and requests on a freshly started app with a small connection pool.

Right after start-up, every worker sees its first logins (each checks a password: tens to
hundreds of milliseconds of CPU) and its first requests of each tenant (each needs the
tenant's policy, not yet loaded) at once. A password checked inside a transaction, on the
event loop, held a pooled connection idle in transaction and stopped every other request;
every request loaded the same policy again. Now the password is checked with no transaction
open, in the hashing threads, and one load per tenant serves every request waiting for it.
"""

from __future__ import annotations

import asyncio
import threading
import time

import httpx

from kernel import Platform
from kernel import _passwords as passwords
from kernel._db import request_session
from kernel._identity.routes import auth as auth_routes
from kernel._passwords import verify_password_off_loop

from .helpers import LOGIN, ME, PASSWORD, bearer, make_tenant, make_user

USERS = 6
SLOW_HASH_SECONDS = 0.3


async def test_login_burst_holds_no_transaction_while_hashing_and_loads_a_policy_once(
    kraliki_make_app, monkeypatch
):
    app = await kraliki_make_app(database_pool_size=4)  # every request of the burst at once
    platform: Platform = app.state.platform
    tenant_id = await make_tenant(platform, "burst")
    for index in range(USERS):
        await make_user(platform, tenant_id, f"user{index}@example.com")

    in_transaction: list[bool] = []
    hash_threads: set[int] = set()
    real_hash_check = passwords.verify_password

    def recorded_hash_check(stored: str, password: str) -> bool:
        hash_threads.add(threading.get_ident())
        return real_hash_check(stored, password)

    async def observed_verify(stored: str, password: str) -> bool:
        # While the password is checked, the request's session has no transaction open.
        session = request_session()
        in_transaction.append(session is not None and session.in_transaction())
        valid = await verify_password_off_loop(stored, password)
        await asyncio.sleep(SLOW_HASH_SECONDS)  # a slow host's hash, without taking a CPU
        return valid

    monkeypatch.setattr(passwords, "verify_password", recorded_hash_check)
    monkeypatch.setattr(auth_routes, "verify_password_off_loop", observed_verify)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:

        async def log_in(index: int) -> str:
            body = {"tenant": "burst", "email": f"user{index}@example.com", "password": PASSWORD}
            response = await client.post(LOGIN, json=body)
            assert response.status_code == 200, response.text
            return str(response.json()["access_token"])

        started = time.monotonic()
        tokens = await asyncio.gather(*(log_in(index) for index in range(USERS)))
        assert in_transaction == [False] * USERS
        assert hash_threads
        assert threading.get_ident() not in hash_threads  # off the event loop

        # The first requests of the tenant on a cold policy cache, all at once: one load.
        loads_before = platform.identity.policies.loads
        answers = await asyncio.gather(*(client.get(ME, headers=bearer(t)) for t in tokens))
        assert [answer.status_code for answer in answers] == [200] * USERS
        assert platform.identity.policies.loads - loads_before == 1

        # Well inside the pool's 30 s checkout timeout.
        assert time.monotonic() - started < 20


async def test_requests_are_answered_while_logins_are_hashing(kraliki_make_app, monkeypatch):
    """A request arriving during a burst of slow logins is not queued behind their hashes."""
    app = await kraliki_make_app(database_pool_size=1)
    platform: Platform = app.state.platform
    tenant_id = await make_tenant(platform, "busy")
    for index in range(USERS + 1):
        await make_user(platform, tenant_id, f"user{index}@example.com")

    hashing = asyncio.Event()
    release = asyncio.Event()
    real_verify = verify_password_off_loop

    async def held_verify(stored: str, password: str) -> bool:
        valid = await real_verify(stored, password)
        hashing.set()
        await release.wait()  # the hashes of the burst take as long as the test wants
        return valid

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        body = {"tenant": "busy", "email": f"user{USERS}@example.com", "password": PASSWORD}
        response = await client.post(LOGIN, json=body)
        assert response.status_code == 200, response.text
        headers = bearer(response.json()["access_token"])

        monkeypatch.setattr(auth_routes, "verify_password_off_loop", held_verify)
        burst = [
            asyncio.ensure_future(
                client.post(
                    LOGIN,
                    json={
                        "tenant": "busy",
                        "email": f"user{index}@example.com",
                        "password": PASSWORD,
                    },
                )
            )
            for index in range(USERS)
        ]
        await asyncio.wait_for(hashing.wait(), 30)
        # Six logins are in the middle of their hash; the pool has two connections.
        answer = await asyncio.wait_for(client.get(ME, headers=headers), 10)
        assert answer.status_code == 200, answer.text
        assert not any(login.done() for login in burst)
        release.set()
        assert [(await login).status_code for login in burst] == [200] * USERS
