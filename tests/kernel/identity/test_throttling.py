"""Failed-login throttling and per-tenant / per-API-key request rates (in-process limiters)."""

from __future__ import annotations

from kernel._identity.throttle import FailureThrottle, RateLimiter
from kernel.testing import app_client

from .helpers import (
    API_KEYS,
    LOGIN,
    ME,
    PASSWORD,
    bearer,
    headers_for,
    make_tenant,
    make_user,
    problem,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def retry_after(response) -> int:
    problem(response, 429, "rate-limited")
    seconds = int(response.headers["retry-after"])
    assert seconds > 0
    return seconds


async def attempt(client, email: str, password: str, tenant: str = "acme"):
    return await client.post(LOGIN, json={"tenant": tenant, "email": email, "password": password})


async def app_with_acme(kraliki_make_app, **settings):
    app = await kraliki_make_app(**settings)
    platform = app.state.platform
    acme = await make_tenant(platform, "acme")
    return app, platform, acme


# --- failed logins ---------------------------------------------------------------------------


async def test_an_account_is_throttled_after_too_many_failures(kraliki_make_app):
    app, platform, acme = await app_with_acme(kraliki_make_app, login_max_failures_per_account=3)
    await make_user(platform, acme, "ada@example.com")
    await make_user(platform, acme, "bob@example.com")
    async with app_client(app) as client:
        for _ in range(3):
            problem(await attempt(client, "ada@example.com", "wrong"), 401, "invalid-credentials")
        blocked = await attempt(client, "ada@example.com", PASSWORD)  # even the right one
        wait = retry_after(blocked)
        assert wait <= platform.settings.login_failure_window_seconds
        assert PASSWORD not in blocked.text
        # Another account of the same tenant (and from the same address) is unaffected.
        assert (await attempt(client, "bob@example.com", PASSWORD)).status_code == 200
        # The same e-mail in other spellings is the same account.
        retry_after(await attempt(client, " ADA@example.com", PASSWORD))


async def test_unknown_accounts_are_throttled_too(kraliki_make_app):
    app, _, _ = await app_with_acme(kraliki_make_app, login_max_failures_per_account=2)
    async with app_client(app) as client:
        for _ in range(2):
            problem(await attempt(client, "ghost@example.com", "x"), 401, "invalid-credentials")
        retry_after(await attempt(client, "ghost@example.com", "x"))
        for _ in range(2):
            problem(
                await attempt(client, "ada@example.com", "x", tenant="initech"),
                401,
                "invalid-credentials",
            )
        retry_after(await attempt(client, "ada@example.com", "x", tenant="initech"))


async def test_the_slugs_spelling_does_not_reset_the_account_allowance(kraliki_make_app):
    app, platform, acme = await app_with_acme(kraliki_make_app, login_max_failures_per_account=3)
    await make_user(platform, acme, "ada@example.com")
    async with app_client(app) as client:
        for _ in range(3):
            problem(await attempt(client, "ada@example.com", "wrong"), 401, "invalid-credentials")
        retry_after(await attempt(client, "ada@example.com", "wrong", tenant="ACME"))


async def test_an_address_is_throttled_across_accounts(kraliki_make_app):
    app, platform, acme = await app_with_acme(
        kraliki_make_app, login_max_failures_per_address=2, login_max_failures_per_account=10
    )
    await make_user(platform, acme, "carol@example.com")
    async with app_client(app) as client:
        problem(await attempt(client, "ada@example.com", "wrong"), 401, "invalid-credentials")
        problem(await attempt(client, "bob@example.com", "wrong"), 401, "invalid-credentials")
        retry_after(await attempt(client, "carol@example.com", PASSWORD))
        # Operators log in from the same address: they wait too.
        retry_after(await client.post(LOGIN, json={"email": "op@example.com", "password": "x"}))


async def test_a_successful_login_resets_the_account_counter(kraliki_make_app):
    app, platform, acme = await app_with_acme(kraliki_make_app, login_max_failures_per_account=3)
    await make_user(platform, acme, "ada@example.com")
    async with app_client(app) as client:
        for _ in range(2):
            problem(await attempt(client, "ada@example.com", "wrong"), 401, "invalid-credentials")
        assert (await attempt(client, "ada@example.com", PASSWORD)).status_code == 200
        for _ in range(2):
            problem(await attempt(client, "ada@example.com", "wrong"), 401, "invalid-credentials")
        assert (await attempt(client, "ada@example.com", PASSWORD)).status_code == 200


async def test_throttled_attempts_are_not_checked_or_counted(kraliki_make_app):
    """While blocked, a login is refused before the password is looked at (no audit entry)."""
    app, platform, acme = await app_with_acme(kraliki_make_app, login_max_failures_per_account=2)
    await make_user(platform, acme, "admin@example.com", roles=["admin"])
    await make_user(platform, acme, "ada@example.com")
    async with app_client(app) as client:
        for _ in range(2):
            await attempt(client, "ada@example.com", "wrong")
        for _ in range(3):
            retry_after(await attempt(client, "ada@example.com", "wrong"))
        admin = await headers_for(client, "admin@example.com")
        events = await client.get(
            "/api/v1/audit", headers=admin, params={"action": "auth.login_failed"}
        )
        assert len(events.json()["items"]) == 2


# --- request rates ---------------------------------------------------------------------------


async def test_an_api_key_is_rate_limited_and_another_key_is_not(kraliki_make_app):
    # 2 a minute: a burst of max(1, 2 // 10) + 1 = 2 requests, then one every 30 s.
    app, platform, acme = await app_with_acme(kraliki_make_app, rate_limit_api_key_per_minute=2)
    await make_user(platform, acme, "admin@example.com", roles=["admin"])
    async with app_client(app) as client:
        admin = await headers_for(client, "admin@example.com")
        first = (await client.post(API_KEYS, headers=admin, json={"name": "one"})).json()
        second = (await client.post(API_KEYS, headers=admin, json={"name": "two"})).json()
        statuses = []
        for _ in range(3):
            response = await client.get(ME, headers=bearer(first["secret"]))
            statuses.append(response.status_code)
        assert statuses == [200, 200, 429]
        assert retry_after(response) <= 30  # the exact values: the unit tests below
        assert (await client.get(ME, headers=bearer(second["secret"]))).status_code == 200
        # Users are not limited per key: the admin goes on.
        for _ in range(3):
            assert (await client.get(ME, headers=admin)).status_code == 200


async def test_a_tenant_is_rate_limited_and_another_tenant_is_not(kraliki_make_app):
    app, platform, acme = await app_with_acme(kraliki_make_app, rate_limit_tenant_per_minute=2)
    globex = await make_tenant(platform, "globex")
    await make_user(platform, acme, "ada@example.com")
    await make_user(platform, acme, "bob@example.com")
    await make_user(platform, globex, "grace@example.com")
    async with app_client(app) as client:
        ada = await headers_for(client, "ada@example.com")
        bob = await headers_for(client, "bob@example.com")
        grace = await headers_for(client, "grace@example.com", tenant="globex")
        assert (await client.get(ME, headers=ada)).status_code == 200
        assert (await client.get(ME, headers=ada)).status_code == 200
        retry_after(await client.get(ME, headers=ada))
        retry_after(await client.get(ME, headers=bob))  # the whole tenant shares the budget
        assert (await client.get(ME, headers=grace)).status_code == 200


async def test_rate_limits_can_be_turned_off(kraliki_make_app):
    app, platform, acme = await app_with_acme(
        kraliki_make_app, rate_limit_tenant_per_minute=0, rate_limit_api_key_per_minute=0
    )
    await make_user(platform, acme, "ada@example.com")
    async with app_client(app) as client:
        ada = await headers_for(client, "ada@example.com")
        for _ in range(15):
            assert (await client.get(ME, headers=ada)).status_code == 200


# --- the limiters themselves, on a fake clock ------------------------------------------------


def test_failure_throttle_blocks_at_the_limit_until_the_window_passes():
    clock = FakeClock()
    throttle = FailureThrottle(limit=3, window=60.0, clock=clock)
    for offset in (0, 10, 20):
        assert throttle.retry_after("ada") is None
        clock.now = 1000.0 + offset
        throttle.fail("ada")
    assert throttle.retry_after("ada") == 40  # the oldest failure leaves the window at 1060
    clock.now = 1059.5
    assert throttle.retry_after("ada") == 1
    clock.now = 1060.0
    assert throttle.retry_after("ada") is None  # two failures left in the window
    throttle.fail("ada")
    assert throttle.retry_after("ada") == 10  # now the failure of 1010 is the oldest


def test_failure_throttle_keys_are_independent_and_reset_forgets():
    clock = FakeClock()
    throttle = FailureThrottle(limit=2, window=60.0, clock=clock)
    throttle.fail("ada")
    throttle.fail("ada")
    throttle.fail("bob")
    assert throttle.retry_after("ada") == 60
    assert throttle.retry_after("bob") is None
    throttle.reset("ada")
    assert throttle.retry_after("ada") is None
    throttle.fail("ada")
    assert throttle.retry_after("ada") is None
    throttle.reset("nobody")  # harmless


def test_failure_throttle_forgets_idle_keys():
    clock = FakeClock()
    throttle = FailureThrottle(limit=2, window=60.0, clock=clock)
    throttle.fail("ada")
    clock.now += 61
    assert throttle.retry_after("ada") is None
    assert throttle._failures == {}


def test_rate_limiter_allows_a_burst_then_one_per_interval():
    clock = FakeClock()
    limiter = RateLimiter(per_minute=60, clock=clock)  # one a second, burst 60 // 10 + 1 = 7
    assert [limiter.acquire("k") for _ in range(7)] == [None] * 7
    assert limiter.acquire("k") == 1
    assert limiter.acquire("other") is None
    clock.now += 1
    assert limiter.acquire("k") is None
    assert limiter.acquire("k") == 1
    clock.now += 60
    assert [limiter.acquire("k") for _ in range(7)] == [None] * 7  # the burst is back
    assert limiter.acquire("k") == 1


def test_rate_limiter_retry_after_counts_down():
    clock = FakeClock()
    limiter = RateLimiter(per_minute=2, clock=clock)  # one each 30 s, burst 2
    assert limiter.acquire("k") is None
    assert limiter.acquire("k") is None
    assert limiter.acquire("k") == 30
    clock.now += 10
    assert limiter.acquire("k") == 20
    clock.now += 19.5
    assert limiter.acquire("k") == 1
    clock.now += 0.5
    assert limiter.acquire("k") is None
    assert limiter.acquire("k") == 30


def test_rate_limiter_refusals_do_not_use_up_the_allowance():
    clock = FakeClock()
    limiter = RateLimiter(per_minute=2, clock=clock)
    limiter.acquire("k")
    limiter.acquire("k")
    for _ in range(50):
        assert limiter.acquire("k") == 30
    clock.now += 30
    assert limiter.acquire("k") is None


def test_rate_limiter_zero_means_unlimited():
    limiter = RateLimiter(per_minute=0, clock=FakeClock())
    assert all(limiter.acquire("k") is None for _ in range(1000))


async def test_requests_a_key_limit_refuses_cost_its_tenant_nothing(kraliki_make_app):
    # Key: 2 a minute (burst 2). Tenant: 60 a minute (burst 7). Hammering the key past its
    # limit must leave the tenant's budget to its users.
    app, platform, acme = await app_with_acme(
        kraliki_make_app, rate_limit_api_key_per_minute=2, rate_limit_tenant_per_minute=60
    )
    await make_user(platform, acme, "admin@example.com", roles=["admin"])
    async with app_client(app) as client:
        admin = await headers_for(client, "admin@example.com")
        key = (await client.post(API_KEYS, headers=admin, json={"name": "noisy"})).json()
        statuses = [
            (await client.get(ME, headers=bearer(key["secret"]))).status_code for _ in range(10)
        ]
        assert statuses.count(200) == 2
        assert (await client.get(ME, headers=admin)).status_code == 200
